#!/usr/bin/env bash
# Keep the utterances present in every file of a data directory, sort the files and regenerate
# spk2utt; logs how many utterances were dropped and why (originals saved in <data-dir>/.backup).
# Usage: utils/fix_data_dir.sh <data-dir>
set -euo pipefail
. "$(dirname "${BASH_SOURCE[0]}")/_python.sh"
exec "${CIFASR_PY}" -m cifasr.bin.data_dir fix "$@"
