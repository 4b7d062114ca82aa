#!/usr/bin/env bash
# Stage 1 of mini_zh: synthesise a small Mandarin corpus on this machine and write the Kaldi dirs
# data/{train,dev,test} (wav.scp, text, utt2spk, spk2utt; LC_ALL=C sorted), relative to the
# recipe dir. Sentences come from a seeded grammar (~360 characters, homophones that only context
# tells apart), spoken by espeak-ng's Mandarin pinyin voice with voice variants x rate x pitch as
# speakers (dev/test speakers never occur in train), resampled to 16 kHz, with optional noise.
# Re-running with the same options does nothing; the same options give bit-identical wavs.
#
# Needs espeak-ng (Debian/Ubuntu: apt-get install espeak-ng). Logic: cifasr/corpus/mini_zh/.
# CI size: local/data.sh --num_train 40 --num_dev 10 --num_test 10   (a few seconds)
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

log "Synthesising mini_zh (train=${num_train} dev=${num_dev} test=${num_test} seed=${seed}" \
    "noise_snr=${noise_snr} nj=${nj}) into ${wav_dir} and ${data_dir}/{train,dev,test}"
"${python}" -m cifasr.corpus.mini_zh \
    --data_dir "${data_dir}" \
    --wav_dir "${wav_dir}" \
    --num_train "${num_train}" \
    --num_dev "${num_dev}" \
    --num_test "${num_test}" \
    --seed "${seed}" \
    --noise_snr "${noise_snr}" \
    --speakers_per_voice "${speakers_per_voice}" \
    --nj "${nj}"

log "Successfully finished. [elapsed=${SECONDS}s]"
