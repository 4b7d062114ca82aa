#!/usr/bin/env bash
# mini_zh: the whole cifasr pipeline on a Mandarin corpus synthesised on this machine, in about
# 17 minutes on 2 CPU cores: corpus (espeak-ng) -> fbank -> token list -> CMVN -> a tiny PLM
# teacher pre-trained on the training text -> teacher features -> LM -> the paper's four rows
# (CIF, +ACD, +LRD, +HKD) -> decoding without and with the LM -> scoring -> RESULTS.md table.
#
#   ./run.sh                 # the default run
#   ./run.sh --size toy      # a few dozen utterances, one epoch: every stage in about 2 minutes
#
# Re-running after it finished redoes nothing: each step leaves a stamp in exp/.done/ holding a
# hash of its command, of the files it names and of the steps it builds on; a step whose command,
# configs or inputs changed runs again (a training then starts anew: the experiment directory of
# the earlier one is moved aside, to exp/<name>.old_<time>). Remove exp/.done to redo everything.
set -euo pipefail

log() {
    local fname=${BASH_SOURCE[1]##*/}
    echo -e "$(date '+%Y-%m-%dT%H:%M:%S') (${fname}:${BASH_LINENO[0]}:${FUNCNAME[1]}) $*"
}
SECONDS=0

size=default            # default or toy (CI size)
rows="cif acd lrd hkd"  # paper rows to train: conf/train_cif.yaml, conf/train_cif_<row>.yaml
nj=2                    # parallel jobs for data, features and decoding
train_jobs=2            # rows trained at the same time (one CPU thread each; 1 when ngpu > 1)
ngpu=0                  # GPUs (0: CPU); without CUDA, N > 1 trains each row with N CPU processes
lm_weights="0.2 0.4 0.6"  # LM weights tried on dev; the best one decodes both sets
plm_dir=exp/plm_tiny    # where the tiny PLM teacher goes (save_pretrained directory)
inference_asr_model=valid.acc.best.pth  # the epoch with the best dev accuracy

help_message="Usage: $0 [--size default|toy] [--rows \"cif acd lrd hkd\"] [--nj N] [--ngpu N]"
. ./path.sh
. "${CIFASR_ROOT}/utils/parse_options.sh"
[ $# -eq 0 ] || { echo "${help_message}" >&2; exit 2; }

case "${size}" in
    default)
        local_data_opts=""
        plm_opts="--max_steps 1000"
        asr_args=""
        lm_args=""
        ;;
    toy)
        local_data_opts="--num_train 40 --num_dev 10 --num_test 10"
        plm_opts="--max_steps 20"
        asr_args="--max_epoch 1 --valid_decode_utts 4"
        lm_args="--max_epoch 1"
        lm_weights="0.3"
        ;;
    *) echo "$0: --size must be default or toy, got '${size}'" >&2; exit 2 ;;
esac
if [ "${ngpu}" -gt 1 ]; then
    train_jobs=1  # each row already trains with ngpu processes
fi

asr=(../../TEMPLATE/asr1/asr.sh --lang zh --feats_type fbank --fs 16k
     --fbank_config conf/fbank.yaml --token_type char
     --train_set train --valid_set dev --test_sets "dev test" --nj "${nj}" --ngpu "${ngpu}"
     --local_data_opts "${local_data_opts}"
     --lm_config conf/train_lm.yaml --lm_args "${lm_args}" --plm "${plm_dir}"
     --inference_asr_model "${inference_asr_model}")

# once NAME [--after STEP]... [--fresh DIR] COMMAND...: run COMMAND unless it already succeeded
# with the same arguments, the same contents of every file named in them and the same earlier
# STEPs (a step whose input changed runs again, and so does every step after it). --fresh: when
# the step succeeded before with other inputs, move DIR (its results) aside first, so that it
# starts anew instead of resuming; an interrupted step (no stamp) still resumes.
once() {
    local name=$1 stamp key arg after=() fresh=
    shift
    while [ "$1" = --after ]; do
        after+=("exp/.done/$2")
        shift 2
    done
    if [ "$1" = --fresh ]; then
        fresh=$2
        shift 2
    fi
    stamp="exp/.done/${name}"
    key=$( {
        printf '%s\n' "$@"
        for arg in "$@" "${after[@]}"; do if [ -f "${arg}" ]; then cat "${arg}"; fi; done
    } | sha1sum | cut -d' ' -f1)
    if [ -f "${stamp}" ] && [ "$(cat "${stamp}")" = "${key}" ]; then
        log "${name}: done before, skipped (remove ${stamp} to redo)"
        return 0
    fi
    if [ -n "${fresh}" ] && [ -f "${stamp}" ] && [ -d "${fresh}" ]; then
        local old
        old="${fresh}.old_$(date '+%Y%m%dT%H%M%S')"
        mv "${fresh}" "${old}"
        rm "${stamp}"  # if this run is interrupted, the next one resumes it
        log "${name}: its inputs changed since it last ran; moved ${fresh} to ${old}"
    fi
    log "${name}: $*"
    "$@" || return  # explicit: errexit is off inside a function called from "... || ..."
    mkdir -p exp/.done
    echo "${key}" > "${stamp}"
}

config_of() {
    if [ "$1" = cif ]; then echo conf/train_cif.yaml; else echo "conf/train_cif_$1.yaml"; fi
}
exp_of() { echo "exp/asr_$(basename "$(config_of "$1")" .yaml)_fbank_char"; }

# 1. Corpus, features, token list, global CMVN (asr.sh stages 1-5 and 10).
once data "${asr[@]}" --stage 1 --stop_stage 10

# 2. The PLM teacher, a small BERT pre-trained (masked LM) on the training text only, and 3. the
# LM for shallow fusion (stages 6-7), side by side on one thread each; then 4. the teacher
# features (stage 8).
mkdir -p exp
OMP_NUM_THREADS=1 once plm --after data \
    python -m cifasr.bin.plm_pretrain --text dump/fbank/train/text --output_dir "${plm_dir}" \
    ${plm_opts} >> exp/plm_pretrain.log 2>&1 &
plm_pid=$!
OMP_NUM_THREADS=1 once lm --after data "${asr[@]}" --use_lm true --stage 6 --stop_stage 7 \
    >> exp/lm.log 2>&1 || { log "LM training failed; see exp/lm.log"; exit 1; }
wait "${plm_pid}" || { log "PLM pre-training failed; see exp/plm_pretrain.log"; exit 1; }
log "$(grep 'MLM loss .* steps' exp/plm_pretrain.log | sed 's/.*INFO: //')"
once teacher --after data --after plm "${asr[@]}" --asr_config conf/train_cif_hkd.yaml \
    --stage 8 --stop_stage 8

# 5. Training, train_jobs rows at a time, one thread each.
train_row() {
    OMP_NUM_THREADS=1 once "train_$1" --after data --after teacher --fresh "$(exp_of "$1")" \
        "${asr[@]}" \
        --asr_config "$(config_of "$1")" --asr_args "${asr_args}" --stage 11 --stop_stage 11 \
        >> "exp/train_$1.log" 2>&1 \
        || { log "training of $1 failed; see exp/train_$1.log"; return 1; }
    log "${1}: $(tail -n 1 "exp/train_$1.log" | cut -d' ' -f3-)"
}
pids=()
for row in ${rows}; do
    train_row "${row}" &
    pids+=($!)
    if [ ${#pids[@]} -ge "${train_jobs}" ]; then wait "${pids[0]}"; pids=("${pids[@]:1}"); fi
done
for pid in "${pids[@]}"; do wait "${pid}"; done

# 6. Decoding and scoring without the LM, then the LM weight tuned on dev with the baseline.
for row in ${rows}; do
    once "decode_${row}" --after "train_${row}" "${asr[@]}" --asr_config "$(config_of "${row}")" \
        --inference_config conf/decode.yaml --stage 12 --stop_stage 13 \
        >> "exp/decode_${row}.log" 2>&1
done
best_weight=
best_cer=
for w in ${lm_weights}; do
    once "tune_lm_${w}" --after train_cif --after lm "${asr[@]}" --asr_config conf/train_cif.yaml \
        --use_lm true --inference_config conf/decode_lm.yaml --inference_args "--lm_weight ${w}" \
        --inference_tag "tune_lm_weight_${w}" --test_sets dev --stage 12 --stop_stage 13 \
        >> "exp/tune_lm_${w}.log" 2>&1
    cer=$(python -m cifasr.bin.compare_results --row "x=$(exp_of cif)" \
          --column "dev=tune_lm_weight_${w}/dev" | tail -n 1 | cut -d'|' -f3 | tr -d ' ')
    log "LM weight ${w}: dev CER ${cer}%"
    if [ -z "${best_cer}" ] || python -c "import sys; sys.exit(not ${cer} < ${best_cer})"; then
        best_weight=${w}
        best_cer=${cer}
    fi
done
log "LM weight ${best_weight} (best dev CER of the baseline: ${best_cer}%)"
for row in ${rows}; do
    once "decode_lm_${row}" --after "train_${row}" --after lm "${asr[@]}" \
        --asr_config "$(config_of "${row}")" --use_lm true --inference_config conf/decode_lm.yaml \
        --inference_args "--lm_weight ${best_weight}" \
        --inference_tag decode_lm --stage 12 --stop_stage 13 >> "exp/decode_lm_${row}.log" 2>&1
done

# 7. The paper's table.
table_args=()
for row in ${rows}; do
    case "${row}" in
        cif) label="CIF" ;; acd) label="CIF + ACD" ;; lrd) label="CIF + LRD" ;;
        hkd) label="CIF + HieraDist" ;; *) label="${row}" ;;
    esac
    table_args+=(--row "${label}=$(exp_of "${row}")")
done
decode_tag="decode_asr_model_${inference_asr_model%.*}"
{
    echo "# mini_zh results (size: ${size})"
    echo
    echo "CER (%) on the synthesised corpus; test speakers are voices never heard in training."
    echo "Without LM: conf/decode.yaml. With LM: conf/decode_lm.yaml and LM weight ${best_weight},"
    echo "chosen on dev with the CIF baseline from: ${lm_weights}."
    echo
    python -m cifasr.bin.compare_results "${table_args[@]}" \
        --column "dev=${decode_tag}/dev" --column "test=${decode_tag}/test" \
        --column "dev (+LM)=decode_lm/dev" --column "test (+LM)=decode_lm/test"
    echo
    python -c "from cifasr.scoring.results_md import environment_lines as e; print('\n'.join(e()))"
} > RESULTS.md
cat RESULTS.md
log "Successfully finished. [elapsed=${SECONDS}s]"
