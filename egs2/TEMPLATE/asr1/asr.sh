#!/usr/bin/env bash
# The shared CIF ASR pipeline, with ESPnet's stage numbers. Run it from a recipe directory (which
# has path.sh, cmd.sh and local/data.sh), normally through the recipe's run.sh:
#   ./run.sh --stage 1 --stop_stage 5
# Every option below can be overridden with "--name value"; "--help" lists them.

# Set bash to 'debug' mode, it will exit on:
# -e 'error', -u 'undefined variable', -o ... 'error in pipeline'
set -e
set -u
set -o pipefail

log() {
    local fname=${BASH_SOURCE[1]##*/}
    echo -e "$(date '+%Y-%m-%dT%H:%M:%S') (${fname}:${BASH_LINENO[0]}:${FUNCNAME[1]}) $*"
}
min() {
    local a="$1" b="$2"
    if [ "${a}" -lt "${b}" ]; then echo "${a}"; else echo "${b}"; fi
}
# The arguments once each, in order (the validation set is often a test set too).
unique_sets() {
    local s seen=" "
    for s in "$@"; do
        case "${seen}" in *" ${s} "*) ;; *) seen+="${s} "; echo "${s}" ;; esac
    done
}
# The last run in a job log (run.py appends a restarted job's log after a marker line).
last_run() {
    awk '/^# ---- restarted: /{n=0; delete l} {l[++n]=$0} END{for(i=1;i<=n;i++) print l[i]}' "$1"
}
# On a failed parallel step: show the error lines of its logs (their last run), then stop.
fail_with_logs() {
    local f
    log "Error: $1 failed; see $2"
    for f in $2; do
        [ -f "${f}" ] && last_run "${f}"
    done | grep -E "ERROR|Error|Traceback" | head -n 20 >&2 || true
    exit 1
}
SECONDS=0

# === options begin
# General configuration
stage=1                 # Processes starts from the specified stage.
stop_stage=10000        # Processes is stopped at the specified stage.
nj=32                   # The number of parallel jobs.
dumpdir=dump            # Directory to dump features.
expdir=exp              # Directory to save experiments.
python=python           # Specify python to execute cifasr commands.

# Data preparation related
local_data_opts=        # The options given to local/data.sh.

# Speed perturbation related
speed_perturb_factors=  # Perturbation factors, e.g. "0.9 1.0 1.1" (separated by space).

# Feature extraction related
feats_type=fbank        # Feature type (fbank: Kaldi-compatible log-mel dumped to ark/scp).
fs=16k                  # Sampling rate of the audio (16k, 8000, ...).
fbank_config=           # YAML of cifasr.frontend.fbank.FbankConfig fields (empty: defaults).
fbank_on_error=fail     # Bad audio in stage 3: fail, or skip it (each one logged and counted).
min_wav_duration=0.1    # Minimum duration in second (stage 4, train/valid only).
max_wav_duration=20     # Maximum duration in second (stage 4, train/valid only).
encoder_subsampling=8   # Encoder frame subsampling; stage 4 drops texts longer than it can emit.

# Tokenization related
lang=noinfo             # The language type of corpus (names data/<lang>_token_list).
token_type=char         # Tokenization type (char or bpe).
nbpe=30                 # The number of BPE vocabulary.
bpemode=bpe             # Mode of BPE (bpe or unigram).
bpe_input_sentence_size=100000000 # Size of input sentence for BPE.
bpe_char_cover=1.0      # Character coverage when modeling BPE.

# Language model related
use_lm=false            # Train an LM (stages 6-7) and fuse it when decoding (stage 12).
lm_config=              # Config for LM training.
lm_args=                # Arguments for LM training, e.g., "--max_epoch 10".
lm_tag=                 # Suffix to the LM experiment dir (default: the config's name).
lm_train_text=          # Extra text for the LM (Kaldi text), added to the training transcripts.

# PLM teacher related (stage 8, run when the ASR config has distillers)
plm=                    # Hugging Face name or local directory of the teacher (bert-base-chinese).
plm_layer=-1            # Teacher layer (-1: the last, as in the paper).
plm_dtype=float16       # Storage type of the dumped teacher features.
plm_batch_size=64       # Sentences per teacher forward.

# ASR model related (read by the training and decoding stages)
asr_config=             # Config for ASR model training.
asr_args=               # Arguments for ASR model training, e.g., "--max_epoch 10".
asr_tag=                # Suffix to the result dir for ASR model training.
ngpu=1                  # GPUs per node (0: CPU). Without CUDA, N > 1 trains N gloo CPU processes.
num_nodes=1             # Machines for training (torchrun rendezvous).
node_rank=0             # This machine's rank among num_nodes.
master_addr=localhost   # Address of node 0 (num_nodes > 1).
master_port=29500       # Port of the rendezvous on node 0.

# Decoding related
inference_config=       # Config for decoding.
inference_args=         # Arguments for decoding, e.g., "--beam_size 4".
inference_tag=          # Suffix to the decoding dir (default: from the options).
inference_asr_model=ave_last10epoch.pth  # ASR model file in the experiment dir to decode with.
inference_lm=valid.loss.best.pth         # LM file in the LM experiment dir.
inference_nj=           # Parallel decoding jobs (default: --nj).
inference_onnx=         # fp32 or int8: decode with onnxruntime and the stage-14 ONNX graphs (empty: PyTorch).
score_wer=false         # Also score words (whitespace tokens) besides characters.

# Packing related
export_onnx=false       # Stage 14: also export ONNX graphs (fp32 and int8) to <asr_exp>/onnx.

# [Task dependent] Set the datadir name created by local/data.sh
train_set=              # Name of training set.
valid_set=              # Name of validation set used for monitoring/tuning network training.
test_sets=              # Names of test sets (space separated, e.g. "dev test").
# === options end

help_message=$(cat << EOF
Usage: $0 --train_set <train_set_name> --valid_set <valid_set_name> --test_sets <test_set_names>

Options (--name value overrides the default):
$(sed -n '/^# === options begin/,/^# === options end/{/^# ===/d;p}' "${BASH_SOURCE[0]}")
EOF
)

log "$0 $*"
# The exact command, saved in the experiment dir by stage 11 so that it can be re-run.
run_args="$(printf '%q ' "$0" "$@")"
cifasr_root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../../.." && pwd)
utils=${cifasr_root}/utils
. "${utils}/parse_options.sh"

if [ $# -ne 0 ]; then
    log "${help_message}"
    log "Error: No positional arguments are required."
    exit 2
fi

. ./path.sh
. ./cmd.sh

# Check required arguments
[ -z "${train_set}" ] && { log "${help_message}"; log "Error: --train_set is required"; exit 2; }
[ -z "${valid_set}" ] && { log "${help_message}"; log "Error: --valid_set is required"; exit 2; }
[ -z "${test_sets}" ] && { log "${help_message}"; log "Error: --test_sets is required"; exit 2; }

# Check feature type
if [ "${feats_type}" != fbank ]; then
    log "Error: not supported: --feats_type ${feats_type} (only fbank)"
    exit 2
fi
data_feats=${dumpdir}/${feats_type}
fs_hz=$(${python} -c "import humanfriendly as h; print(int(h.parse_size('${fs}')))")

# Token list related
token_listdir=data/${lang}_token_list
bpedir="${token_listdir}/bpe_${bpemode}${nbpe}"
chardir="${token_listdir}/char"
if [ "${token_type}" = bpe ]; then
    token_list="${bpedir}/tokens.txt"
    bpemodel="${bpedir}/bpe.model"
elif [ "${token_type}" = char ]; then
    token_list="${chardir}/tokens.txt"
    bpemodel=none
else
    log "Error: not supported --token_type '${token_type}' (char or bpe)"
    exit 2
fi

# Set tag for naming of model directory
asr_stats_dir="${expdir}/asr_stats_${feats_type}_${lang}_${token_type}"
if [ "${token_type}" = bpe ]; then
    asr_stats_dir+="${nbpe}"
fi
if [ -n "${speed_perturb_factors}" ]; then
    asr_stats_dir+="_sp"
fi

# Experiment dirs
if [ -z "${asr_tag}" ]; then
    asr_tag="$(basename "${asr_config:-none}" .yaml)_${feats_type}_${token_type}"
fi
asr_exp="${expdir}/asr_${asr_tag}"
if [ -z "${lm_tag}" ]; then
    lm_tag="$(basename "${lm_config:-none}" .yaml)_${token_type}"
fi
lm_exp="${expdir}/lm_${lm_tag}"
if [ -z "${inference_tag}" ]; then
    inference_tag="$(basename "${inference_config:-decode}" .yaml)"
    if "${use_lm}"; then
        inference_tag+="_lm_${lm_tag}"
    fi
    inference_tag+="_asr_model_${inference_asr_model%.*}"
    if [ -n "${inference_onnx}" ]; then
        inference_tag+="_onnx_${inference_onnx}"
    fi
fi
inference_nj=${inference_nj:-${nj}}
# --ngpu N: with CUDA, stage 11 runs N NCCL processes (one GPU each) and the other stages use one
# GPU; without CUDA, stage 11 runs N gloo CPU processes (N > 1; each with OMP_NUM_THREADS =
# cores / N unless set) and every other stage runs on the CPU.
gpus=0
if [ "${ngpu}" -gt 0 ]; then
    if ${python} -c "import sys, torch; sys.exit(not torch.cuda.is_available())"; then
        gpus=${ngpu}
    else
        log "--ngpu ${ngpu}: CUDA is not available; training runs $(( ngpu > 1 ? ngpu : 1 ))" \
            "CPU process(es), the other stages run on the CPU"
    fi
fi
# Does the ASR config distil (stage 8 and the teacher features of stage 11)?
distillers=
if [ -n "${asr_config}" ] && [ -f "${asr_config}" ]; then
    distillers=$(${python} -m cifasr.bin.config_query --config "${asr_config}" --key distillers)
fi
plm_dir="${dumpdir}/plm/$(basename "${plm:-none}")_layer${plm_layer}"

# ========================== Main stages start from here. ==========================

if [ ${stage} -le 1 ] && [ ${stop_stage} -ge 1 ]; then
    log "Stage 1: Data preparation for data/${train_set}, data/${valid_set}, etc."
    # [Task dependent] Need to create data.sh for new corpus
    # shellcheck disable=SC2086
    local/data.sh ${local_data_opts}
    for dset in $(unique_sets "${train_set}" "${valid_set}" ${test_sets}); do
        "${utils}/validate_data_dir.sh" "data/${dset}"
        log "Stage 1: data/${dset}: $(wc -l < "data/${dset}/utt2spk") utterances"
    done
fi

if [ -n "${speed_perturb_factors}" ]; then
    if [ ${stage} -le 2 ] && [ ${stop_stage} -ge 2 ]; then
        log "Stage 2: Speed perturbation: data/${train_set} -> data/${train_set}_sp"
        _dirs=()
        for factor in ${speed_perturb_factors}; do
            "${utils}/perturb_data_dir_speed.sh" "${factor}" "data/${train_set}" \
                "data/${train_set}_sp${factor}"
            _dirs+=("data/${train_set}_sp${factor}")
        done
        "${utils}/combine_data_dir.sh" "data/${train_set}_sp" "${_dirs[@]}"
        log "Stage 2: data/${train_set}: $(wc -l < "data/${train_set}/utt2spk") utterances in," \
            "data/${train_set}_sp: $(wc -l < "data/${train_set}_sp/utt2spk") out"
    fi
    train_set="${train_set}_sp"
fi

if [ ${stage} -le 3 ] && [ ${stop_stage} -ge 3 ]; then
    log "Stage 3: Feature extraction (${feats_type}, ${fs_hz} Hz): data/ -> ${data_feats}/"
    _fbank_opts=(--sample_rate "${fs_hz}")
    if [ -n "${fbank_config}" ]; then
        _fbank_opts+=(--fbank_config "${fbank_config}")
    fi
    for dset in $(unique_sets "${train_set}" "${valid_set}" ${test_sets}); do
        # Training and validation sets are filtered by stage 4 from their org/ copy.
        if [ "${dset}" = "${train_set}" ] || [ "${dset}" = "${valid_set}" ]; then
            _suf="/org"
        else
            _suf=""
        fi
        _dir="${data_feats}${_suf}/${dset}"
        _logdir="${_dir}/logs"
        rm -rf "${_dir}"
        "${utils}/copy_data_dir.sh" "data/${dset}" "${_dir}"
        mkdir -p "${_logdir}" "${_dir}/data"
        ${python} -m cifasr.bin.compute_fbank "${_fbank_opts[@]}" --print_config \
            > "${_dir}/fbank.yaml"
        echo "${feats_type}" > "${_dir}/feats_type"

        _nutt=$(wc -l < "${_dir}/wav.scp")
        _nj=$(min "${nj}" "${_nutt}")
        _split=()
        for n in $(seq "${_nj}"); do _split+=("${_logdir}/wav.${n}.scp"); done
        "${utils}/split_scp.sh" "${_dir}/wav.scp" "${_split[@]}"
        log "Stage 3: ${_dir}: ${_nutt} utterances, ${_nj} jobs, log: ${_logdir}/compute_fbank.*.log"
        # shellcheck disable=SC2086
        ${train_cmd} JOB=1:"${_nj}" "${_logdir}/compute_fbank.JOB.log" \
            ${python} -m cifasr.bin.compute_fbank --fbank_config "${_dir}/fbank.yaml" \
                --wav_scp "${_logdir}/wav.JOB.scp" --out_ark "${_dir}/data/feats.JOB.ark" \
                --out_scp "${_logdir}/feats.JOB.scp" \
                --out_num_frames "${_logdir}/utt2num_frames.JOB" \
                --out_dur "${_logdir}/utt2dur.JOB" --on_error "${fbank_on_error}" \
            || fail_with_logs "feature extraction of ${dset}" "${_logdir}/compute_fbank.*.log"
        # Utterances skipped with --fbank_on_error skip, one line each, from the job logs.
        grep -h "WARNING" "${_logdir}"/compute_fbank.*.log >&2 || true
        for n in $(seq "${_nj}"); do cat "${_logdir}/feats.${n}.scp"; done | sort > "${_dir}/feats.scp"
        for f in utt2num_frames utt2dur; do
            for n in $(seq "${_nj}"); do cat "${_logdir}/${f}.${n}"; done | sort > "${_dir}/${f}"
        done
        # With --fbank_on_error skip, this drops the skipped utterances from the other files.
        "${utils}/fix_data_dir.sh" "${_dir}"
        "${utils}/validate_data_dir.sh" --need-feats "${_dir}"
        log "Stage 3: ${_dir}: ${_nutt} utterances in, $(wc -l < "${_dir}/feats.scp") out"
    done
fi

if [ ${stage} -le 4 ] && [ ${stop_stage} -ge 4 ]; then
    log "Stage 4: Remove long/short data: ${data_feats}/org -> ${data_feats}"
    for dset in $(unique_sets "${train_set}" "${valid_set}"); do
        rm -rf "${data_feats}/${dset}"
        ${python} -m cifasr.bin.filter_data --src "${data_feats}/org/${dset}" \
            --dest "${data_feats}/${dset}" --min_duration "${min_wav_duration}" \
            --max_duration "${max_wav_duration}" --subsampling_factor "${encoder_subsampling}"
        "${utils}/validate_data_dir.sh" --need-feats "${data_feats}/${dset}"
    done
fi

if [ ${stage} -le 5 ] && [ ${stop_stage} -ge 5 ]; then
    _text="${data_feats}/${train_set}/text"
    if [ "${token_type}" = bpe ]; then
        log "Stage 5: Generate token_list from ${_text} using BPE (${bpemode}, ${nbpe})"
        rm -rf "${bpedir}"
        ${python} -m cifasr.bin.token_list --token_type bpe --text "${_text}" \
            --out_dir "${bpedir}" --nbpe "${nbpe}" --bpemode "${bpemode}" \
            --character_coverage "${bpe_char_cover}" \
            --input_sentence_size "${bpe_input_sentence_size}"
    else
        log "Stage 5: Generate character level token_list from ${_text}"
        rm -rf "${chardir}"
        ${python} -m cifasr.bin.token_list --token_type char --text "${_text}" \
            --out_dir "${chardir}"
    fi
    log "Stage 5: ${token_list}: $(wc -l < "${token_list}") tokens"
fi

if "${use_lm}"; then
    if [ ${stage} -le 6 ] && [ ${stop_stage} -ge 6 ]; then
        log "Stage 6: LM text: ${data_feats}/lm_train.txt"
        cat "${data_feats}/${train_set}/text" ${lm_train_text} | sort -u -k1,1 \
            > "${data_feats}/lm_train.txt"
        log "Stage 6: ${data_feats}/lm_train.txt: $(wc -l < "${data_feats}/lm_train.txt") sentences"
    fi
    if [ ${stage} -le 7 ] && [ ${stop_stage} -ge 7 ]; then
        [ -z "${lm_config}" ] && { log "Error: --use_lm true needs --lm_config"; exit 2; }
        log "Stage 7: LM training: ${lm_exp} (log: ${lm_exp}/train.log)"
        mkdir -p "${lm_exp}"
        # shellcheck disable=SC2086
        ${cuda_cmd} "${lm_exp}/train.log" \
            ${python} -m cifasr.bin.lm_train --config "${lm_config}" \
                --train_text "${data_feats}/lm_train.txt" \
                --valid_text "${data_feats}/${valid_set}/text" \
                --token_list "${token_list}" --token_type "${token_type}" \
                $( [ "${token_type}" = bpe ] && echo --bpemodel "${bpemodel}" ) \
                --ngpu "$(min "${gpus}" 1)" --output_dir "${lm_exp}" ${lm_args} \
            || fail_with_logs "LM training" "${lm_exp}/train.log"
        for dset in ${test_sets}; do
            ${python} -m cifasr.bin.lm_perplexity --lm_train_config "${lm_exp}/config.yaml" \
                --lm_file "${lm_exp}/${inference_lm}" --text "${data_feats}/${dset}/text" \
                --output "${lm_exp}/perplexity_${dset}" > /dev/null
            log "Stage 7: ${dset}: LM perplexity $(head -n 1 "${lm_exp}/perplexity_${dset}")"
        done
    fi
fi

if [ -n "${distillers}" ] && [ ${stage} -le 8 ] && [ ${stop_stage} -ge 8 ]; then
    [ -z "${plm}" ] && { log "Error: ${asr_config} distils (${distillers}); give --plm"; exit 2; }
    log "Stage 8: PLM teacher features (${plm}, layer ${plm_layer}) -> ${plm_dir}"
    for dset in $(unique_sets "${train_set}" "${valid_set}" ${test_sets}); do
        _out="${plm_dir}/${dset}"
        rm -rf "${_out}"
        mkdir -p "${_out}"
        # shellcheck disable=SC2086
        ${cuda_cmd} "${_out}/plm_dump.log" \
            ${python} -m cifasr.bin.plm_dump --plm "${plm}" --layer "${plm_layer}" \
                --text "${data_feats}/${dset}/text" --token_list "${token_list}" \
                --token_type "${token_type}" \
                $( [ "${token_type}" = bpe ] && echo --bpemodel "${bpemodel}" ) \
                --output_dir "${_out}" --batch_size "${plm_batch_size}" --dtype "${plm_dtype}" \
                --device "$( [ "${gpus}" -gt 0 ] && echo cuda || echo cpu )" \
            || fail_with_logs "PLM feature dump of ${dset}" "${_out}/plm_dump.log"
        log "Stage 8: ${_out}: $(wc -l < "${_out}/feats.scp") utterances," \
            "$(wc -l < "${_out}/imperfect_alignments" 2>/dev/null || echo 0) aligned imperfectly"
    done
fi

if [ ${stage} -le 10 ] && [ ${stop_stage} -ge 10 ]; then
    _scp="${data_feats}/${train_set}/feats.scp"
    _dir="${asr_stats_dir}/train"
    _logdir="${asr_stats_dir}/logdir"
    log "Stage 10: Global CMVN statistics: ${_scp} -> ${_dir}/feats_stats.npz"
    rm -rf "${_dir}" "${_logdir}"
    mkdir -p "${_dir}" "${_logdir}"
    _nj=$(min "${nj}" "$(wc -l < "${_scp}")")
    _split=()
    for n in $(seq "${_nj}"); do _split+=("${_logdir}/feats.${n}.scp"); done
    "${utils}/split_scp.sh" "${_scp}" "${_split[@]}"
    # shellcheck disable=SC2086
    ${train_cmd} JOB=1:"${_nj}" "${_logdir}/stats.JOB.log" \
        ${python} -m cifasr.bin.compute_cmvn --feats_scp "${_logdir}/feats.JOB.scp" \
            --out "${_logdir}/stats.JOB.npz" \
        || fail_with_logs "CMVN statistics" "${_logdir}/stats.*.log"
    _stats=()
    for n in $(seq "${_nj}"); do _stats+=("${_logdir}/stats.${n}.npz"); done
    ${python} -m cifasr.bin.compute_cmvn --merge "${_stats[@]}" --out "${_dir}/feats_stats.npz"
fi

if [ ${stage} -le 11 ] && [ ${stop_stage} -ge 11 ]; then
    [ -z "${asr_config}" ] && { log "Error: stage 11 needs --asr_config"; exit 2; }
    log "Stage 11: ASR training: ${asr_exp} (log: ${asr_exp}/train.log)"
    mkdir -p "${asr_exp}"
    # The command of this stage, runnable again from the recipe directory.
    printf '#!/usr/bin/env bash\ncd %q\n%s--stage 11 --stop_stage 11 "$@"; exit $?\n' \
        "$(pwd)" "${run_args}" > "${asr_exp}/run.sh"
    chmod +x "${asr_exp}/run.sh"
    _opts=(--config "${asr_config}" --token_list "${token_list}" --token_type "${token_type}"
           --fbank_config "${data_feats}/${train_set}/fbank.yaml"
           --cmvn_stats "${asr_stats_dir}/train/feats_stats.npz"
           --train_feats_scp "${data_feats}/${train_set}/feats.scp"
           --train_text "${data_feats}/${train_set}/text"
           --valid_feats_scp "${data_feats}/${valid_set}/feats.scp"
           --valid_text "${data_feats}/${valid_set}/text"
           --output_dir "${asr_exp}")
    if [ "${token_type}" = bpe ]; then
        _opts+=(--bpemodel "${bpemodel}")
    fi
    if [ -n "${distillers}" ]; then
        _opts+=(--train_extra_scp "plm=${plm_dir}/${train_set}/feats.scp"
                --valid_extra_scp "plm=${plm_dir}/${valid_set}/feats.scp")
    fi
    _nproc=$(( ngpu > 1 ? ngpu : 1 ))
    _threads=${OMP_NUM_THREADS:-}
    if [ "${_nproc}" -gt 1 ] || [ "${num_nodes}" -gt 1 ]; then
        # One process per GPU (NCCL), or without CUDA one per share of the cores (gloo); the same
        # command on each node with its --node_rank.
        _launch=(${python} -m torch.distributed.run --nproc_per_node "${_nproc}")
        if [ "${num_nodes}" -gt 1 ]; then
            _launch+=(--nnodes "${num_nodes}" --node_rank "${node_rank}"
                      --master_addr "${master_addr}" --master_port "${master_port}")
        else
            _launch+=(--standalone)  # a free port: several trainings may share the machine
        fi
        if [ "${gpus}" -eq 0 ] && [ -z "${_threads}" ]; then
            _threads=$(( $(nproc) / _nproc > 0 ? $(nproc) / _nproc : 1 ))
        fi
        log "Stage 11: ${_nproc} processes per node ($( [ "${gpus}" -gt 0 ] && echo "NCCL, one" \
            "GPU each" || echo "gloo, CPU, ${_threads} threads each"))"
        _launch+=(-m cifasr.bin.asr_train --ngpu "$(min "${gpus}" 1)")
    else
        _launch=(${python} -m cifasr.bin.asr_train --ngpu "$(min "${gpus}" 1)")
    fi
    # shellcheck disable=SC2086
    env ${_threads:+OMP_NUM_THREADS=${_threads}} ${cuda_cmd} "${asr_exp}/train.log" \
        "${_launch[@]}" "${_opts[@]}" ${asr_args} \
        || fail_with_logs "ASR training" "${asr_exp}/train.log"
    log "Stage 11: $(last_run "${asr_exp}/train.log" | grep -c 'epoch results: \[valid\]' || true)" \
        "epochs trained; models in ${asr_exp}"
fi

if [ ${stage} -le 12 ] && [ ${stop_stage} -ge 12 ]; then
    log "Stage 12: Decoding: ${asr_exp}/${inference_tag}"
    _opts=(--asr_train_config "${asr_exp}/config.yaml"
           --asr_model_file "${asr_exp}/${inference_asr_model}" --ngpu "$(min "${gpus}" 1)")
    if [ -n "${inference_onnx}" ]; then
        # The graphs of stage 14 (--export_onnx true) in onnxruntime, on the CPU.
        _opts=(--onnx_dir "${asr_exp}/onnx" --onnx_precision "${inference_onnx}" --ngpu 0)
    fi
    if [ -n "${inference_config}" ]; then
        _opts+=(--config "${inference_config}")
    fi
    if "${use_lm}"; then
        _opts+=(--lm_train_config "${lm_exp}/config.yaml" --lm_file "${lm_exp}/${inference_lm}")
    fi
    for dset in ${test_sets}; do
        _data="${data_feats}/${dset}"
        _dir="${asr_exp}/${inference_tag}/${dset}"
        _logdir="${_dir}/logdir"
        rm -rf "${_dir}"
        mkdir -p "${_logdir}"
        _nj=$(min "${inference_nj}" "$(wc -l < "${_data}/feats.scp")")
        _split=()
        for n in $(seq "${_nj}"); do _split+=("${_logdir}/feats.${n}.scp"); done
        "${utils}/split_scp.sh" "${_data}/feats.scp" "${_split[@]}"
        log "Stage 12: ${dset}: ${_nj} jobs, log: ${_logdir}/asr_inference.*.log"
        # shellcheck disable=SC2086
        ${decode_cmd} JOB=1:"${_nj}" "${_logdir}/asr_inference.JOB.log" \
            ${python} -m cifasr.bin.asr_inference "${_opts[@]}" \
                --feats_scp "${_logdir}/feats.JOB.scp" --output_dir "${_logdir}/output.JOB" \
                ${inference_args} \
            || fail_with_logs "decoding of ${dset}" "${_logdir}/asr_inference.*.log"
        ${python} -m cifasr.bin.merge_decode --output_dir "${_dir}" "${_logdir}"/output.*
        log "Stage 12: ${dset}: $(wc -l < "${_dir}/text") hypotheses," \
            "$(grep -E '^(rtf|precision) ' "${_dir}/rtf" | tr '\n' ' ')"
    done
fi

if [ ${stage} -le 13 ] && [ ${stop_stage} -ge 13 ]; then
    log "Stage 13: Scoring: ${asr_exp}/${inference_tag}"
    for dset in ${test_sets}; do
        _data="${data_feats}/${dset}"
        _dir="${asr_exp}/${inference_tag}/${dset}"
        _types=(cer)
        if "${score_wer}"; then _types+=(wer); fi
        for _type in "${_types[@]}"; do
            _token=char
            [ "${_type}" = wer ] && _token=word
            ${python} -m cifasr.bin.score --ref "${_data}/text" --hyp "${_dir}/text" \
                --utt2spk "${_data}/utt2spk" --output_dir "${_dir}/score_${_type}" \
                --token_type "${_token}" --scorer auto
        done
    done
    ${python} -m cifasr.bin.make_results --exp_dir "${asr_exp}"
    cat "${asr_exp}/RESULTS.md"
fi

if [ ${stage} -le 14 ] && [ ${stop_stage} -ge 14 ]; then
    _zip="${asr_exp}/${asr_exp##*/}_model.zip"
    log "Stage 14: Pack the model: ${_zip}"
    _opts=(--asr_train_config "${asr_exp}/config.yaml"
           --asr_model_file "${asr_exp}/${inference_asr_model}" --outpath "${_zip}")
    [ -f "${asr_exp}/RESULTS.md" ] && _opts+=(--option "${asr_exp}/RESULTS.md")
    [ -f "${asr_stats_dir}/train/feats_stats.npz" ] && \
        _opts+=(--option "${asr_stats_dir}/train/feats_stats.npz")
    if "${use_lm}"; then
        _opts+=(--lm_train_config "${lm_exp}/config.yaml" --lm_file "${lm_exp}/${inference_lm}")
    fi
    ${python} -m cifasr.bin.pack "${_opts[@]}"
    if "${export_onnx}"; then
        log "Stage 14: ONNX export: ${asr_exp}/onnx (decode it with --inference_onnx fp32|int8)"
        rm -rf "${asr_exp}/onnx"
        ${python} -m cifasr.bin.export_onnx --model_zip "${_zip}" --output_dir "${asr_exp}/onnx"
    fi
fi

log "Successfully finished. [elapsed=${SECONDS}s]"
