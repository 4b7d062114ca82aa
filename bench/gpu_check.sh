#!/usr/bin/env bash
# The GPU check: one short script for a machine with a CUDA GPU (about 6 minutes on one H100,
# install included), printing as it goes and one summary at the end:
#   1. the device and what `amp: auto` resolves to on it;
#   2. the CUDA-marked tests (pytest -m cuda): CIF on CUDA equals the CPU, fp16 + GradScaler and
#      bf16 training finite and resumable, DDP with NCCL when 2+ GPUs are visible;
#   3. bench/train_step.py --device cuda (the 47.2M AISHELL-1 model, 30,000-frame batch) in fp32,
#      bf16 and fp16: audio seconds per second against the goal of 580 per A100-class GPU (the
#      original: 248 epochs of AISHELL-1 in about 32 h on 2 A100s);
#   4. bench/decode.py --device cuda: RTF of greedy and beam-10 search at batch 1 and 32.
#
#   bench/gpu_check.sh                  # on the GPU machine, from the repository root
#   bench/gpu_check.sh --device cpu     # a rehearsal of the same steps on the CPU, small sizes
#
# The GPU image of this workplace has python3 with torch, transformers, numpy, PyYAML,
# sentencepiece and pytest, but no network: run bench/gpu_wheels.sh on a networked machine first
# and carry the .whl folder; this script installs it (pip --no-index --target /tmp/site).
# Environment: PYTHON (default python3). With $OUT set, the log goes to $OUT/gpu_check.log.
set -uo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
root=$(pwd)
device=cuda
[ "${1:-}" = --device ] && device=$2
python=${PYTHON:-python3}
log=${OUT:+${OUT}/gpu_check.log}
log=${log:-/tmp/gpu_check.log}
: > "${log}"
summary=()
SECONDS=0
say() { echo "[gpu_check ${SECONDS}s] $*" | tee -a "${log}"; }
# step NAME TIMEOUT COMMAND...: run, tee the output, record pass/fail and the time in the summary
step() {
    local name=$1 limit=$2 start=${SECONDS} rc
    shift 2
    say "== ${name}: $*"
    timeout "${limit}" "$@" 2>&1 | tee -a "${log}"
    rc=${PIPESTATUS[0]}
    summary+=("${name}: $([ "${rc}" = 0 ] && echo ok || echo "FAILED (exit ${rc})") in $((SECONDS - start)) s")
    return 0
}

export PYTHONUNBUFFERED=1 PYTHONPATH="${root}${PYTHONPATH:+:${PYTHONPATH}}"
export GLIBC_TUNABLES=${GLIBC_TUNABLES:-glibc.malloc.mmap_max=0:glibc.malloc.trim_threshold=68719476736}
if ! "${python}" -c "import kaldiio, kaldi_native_fbank, soundfile, humanfriendly, typeguard" 2>/dev/null; then
    if ls .whl/*.whl >/dev/null 2>&1; then
        say "installing the carried wheels: $(ls .whl | tr '\n' ' ')"
        "${python}" -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade \
            --target /tmp/site .whl/*.whl || { say "wheel install failed"; exit 1; }
        export PYTHONPATH="${PYTHONPATH}:/tmp/site"
    else
        say "cifasr's requirements are missing and there is no .whl/: run bench/gpu_wheels.sh first"
        exit 1
    fi
fi
command -v nvidia-smi >/dev/null && nvidia-smi -L | tee -a "${log}"
step "device" 120 "${python}" -c "
import torch
from cifasr.utils.precision import device_line, resolve_precision
print('torch', torch.__version__, 'cuda', torch.version.cuda, 'GPUs', torch.cuda.device_count())
print(device_line('${device}'))
print(resolve_precision('auto', '${device}').describe())
"

if [ "${device}" = cuda ]; then
    sizes=(--repeat 5)
    decode_sizes=(--repeat 3)
else  # rehearsal: the same steps, small enough for a CPU
    sizes=(--repeat 1 --frames 2000)
    decode_sizes=(--repeat 1 --batch 4)
fi
step "CUDA tests" 240 "${python}" -m pytest -q -rs -m cuda test/
step "train_step" 240 "${python}" bench/train_step.py --device "${device}" --dtype all "${sizes[@]}"
step "decode" 180 "${python}" bench/decode.py --device "${device}" --dtype all "${decode_sizes[@]}"

say "== summary (${SECONDS} s in all; log: ${log})"
for line in "${summary[@]}"; do say "${line}"; done
grep -E "^(device|precision):|passed|failed|skipped" "${log}" | grep -v "^\[gpu_check" | sort -u \
    | tee -a "${log}"
grep -E "s/step" "${log}" | sed 's/^/train_step: /' | tee -a "${log}"
grep -E "^(greedy|beam)|^reference" "${log}" | sed 's/^/decode: /' | tee -a "${log}"
best=$(grep -E "s/step" "${log}" | awk '{for (i = 1; i <= NF; i++) if ($i == "audio-s/s") print $(i - 1)}' \
    | sort -g | tail -n 1)
say "best training throughput: ${best:-?} audio-s/s (goal: >= 580 per A100-class GPU)"
