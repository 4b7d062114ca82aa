#!/usr/bin/env bash
# Copy a data directory, optionally renaming utterances and speakers.
# Usage: utils/copy_data_dir.sh [--utt-prefix P] [--utt-suffix S] [--spk-prefix P] [--spk-suffix S] <src> <dest>
set -euo pipefail
. "$(dirname "${BASH_SOURCE[0]}")/_python.sh"
exec "${CIFASR_PY}" -m cifasr.bin.data_dir copy "$@"
