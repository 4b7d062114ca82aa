#!/usr/bin/env bash
# Concatenate data directories (an utterance id in two sources is an error).
# Usage: utils/combine_data_dir.sh <dest> <src1> <src2> ...
set -euo pipefail
. "$(dirname "${BASH_SOURCE[0]}")/_python.sh"
exec "${CIFASR_PY}" -m cifasr.bin.data_dir combine "$@"
