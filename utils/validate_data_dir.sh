#!/usr/bin/env bash
# Check a Kaldi data directory; prints every problem (file, line, key) and exits 1 if any.
# Usage: utils/validate_data_dir.sh [--no-text] [--no-wav] [--need-feats] <data-dir>
# (Kaldi options --no-feats, --non-print and --no-spk-sort are accepted; feats.scp is optional
# unless --need-feats.)
set -euo pipefail
. "$(dirname "${BASH_SOURCE[0]}")/_python.sh"
args=()
for a in "$@"; do
    case "$a" in
        --no-feats|--no_feats|--non-print|--non_print|--no-spk-sort|--no_spk_sort) ;;
        *) args+=("$a") ;;
    esac
done
exec "${CIFASR_PY}" -m cifasr.bin.data_dir validate "${args[@]}"
