#!/usr/bin/env bash
# Invert utt2spk into spk2utt on standard output.
# Usage: utils/utt2spk_to_spk2utt.sh [<utt2spk>] > spk2utt      (reads stdin without a file)
set -euo pipefail
. "$(dirname "${BASH_SOURCE[0]}")/_python.sh"
exec "${CIFASR_PY}" -m cifasr.bin.data_dir spk2utt "$@"
