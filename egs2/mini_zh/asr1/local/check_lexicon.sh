#!/usr/bin/env bash
# Maintainer tool: list the mini_zh lexicon words whose pinyin differs from espeak-ng's own
# reading of their characters (catches pinyin typos when extending cifasr/corpus/mini_zh/lexicon.py;
# the differences it lists today are espeak-ng's dictionary errors and neutral tones, see
# cifasr/corpus/mini_zh/lexicon_check.py). Usage: local/check_lexicon.sh [--nj N]
set -euo pipefail
if [ -f ./path.sh ]; then set +u; . ./path.sh; set -u; fi  # shellcheck disable=SC1091
exec "${python:-python3}" -m cifasr.corpus.mini_zh.lexicon_check "$@"
