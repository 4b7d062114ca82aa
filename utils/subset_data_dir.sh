#!/usr/bin/env bash
# Copy some utterances of a data directory (Kaldi's calling conventions).
# Usage: utils/subset_data_dir.sh <src> <N> <dest>                 N evenly spaced utterances
#        utils/subset_data_dir.sh --first|--last|--shortest <src> <N> <dest>
#        utils/subset_data_dir.sh --utt-list <file> <src> <dest>
#        utils/subset_data_dir.sh --spk-list <file> <src> <dest>
set -euo pipefail
. "$(dirname "${BASH_SOURCE[0]}")/_python.sh"
usage() { sed -n "2,6p" "$0" >&2; exit 1; }
case "${1:-}" in
    --first|--last|--shortest)
        [ $# -eq 4 ] || usage
        exec "${CIFASR_PY}" -m cifasr.bin.data_dir subset "$2" "$4" "$1" "$3" ;;
    --utt-list|--utt_list|--spk-list|--spk_list)
        [ $# -eq 4 ] || usage
        opt=${1#--}
        exec "${CIFASR_PY}" -m cifasr.bin.data_dir subset "$3" "$4" "--${opt//-/_}" "$2" ;;
    --*) echo "$0: unsupported option $1" >&2; usage ;;
    *)
        [ $# -eq 3 ] || usage
        exec "${CIFASR_PY}" -m cifasr.bin.data_dir subset "$1" "$3" --even "$2" ;;
esac
