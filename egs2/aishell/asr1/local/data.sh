#!/usr/bin/env bash
# Stage 1 of the AISHELL-1 recipe: data/{train,dev,test} in Kaldi format from ${AISHELL} (db.sh).
# Set bash to 'debug' mode, it will exit on:
# -e 'error', -u 'undefined variable', -o ... 'error in pipeline'
set -e
set -u
set -o pipefail

log() {
    local fname=${BASH_SOURCE[1]##*/}
    echo -e "$(date '+%Y-%m-%dT%H:%M:%S') (${fname}:${BASH_LINENO[0]}:${FUNCNAME[1]}) $*"
}
SECONDS=0

download=true       # Download data_aishell.tgz into ${AISHELL} when the corpus is not there.
data_url=https://www.openslr.org/resources/33   # Where openslr resource 33 is (or a mirror).

help_message=$(cat << EOF
Usage: $0 [--download true|false] [--data_url URL]
  AISHELL (db.sh, or the environment) is the directory holding data_aishell/ (packed or
  unpacked) or data_aishell.tgz; with --download true a missing corpus is downloaded there.
EOF
)

log "$0 $*"
. ./path.sh
. "${CIFASR_ROOT}/utils/parse_options.sh"
. ./db.sh

if [ $# -gt 0 ]; then
    log "${help_message}"
    exit 2
fi
if [ -z "${AISHELL}" ]; then
    log "Error: \$AISHELL is not set in db.sh."
    exit 2
fi

log "Data preparation from ${AISHELL}"
python -m cifasr.bin.prepare_aishell --corpus_root "${AISHELL}" --out_dir data \
    --download "${download}" --url "${data_url}/data_aishell.tgz"

for x in train dev test; do
    "${CIFASR_ROOT}/utils/validate_data_dir.sh" "data/${x}"
done

log "Successfully finished. [elapsed=${SECONDS}s]"
