#!/usr/bin/env bash
# Split a Kaldi file into contiguous, nearly equal parts.
# Usage: utils/split_scp.sh <scp> <out1> [<out2> ...]
set -euo pipefail
. "$(dirname "${BASH_SOURCE[0]}")/_python.sh"
exec "${CIFASR_PY}" -m cifasr.bin.data_dir split_scp "$@"
