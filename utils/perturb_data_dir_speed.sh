#!/usr/bin/env bash
# Speed-perturbed copy: ids and speakers prefixed sp<factor>-, wav.scp entries become sox pipes.
# Usage: utils/perturb_data_dir_speed.sh <factor> <src> <dest>
set -euo pipefail
. "$(dirname "${BASH_SOURCE[0]}")/_python.sh"
exec "${CIFASR_PY}" -m cifasr.bin.data_dir perturb_speed "$@"
