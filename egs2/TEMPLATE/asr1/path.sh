# Environment of every recipe: each recipe's path.sh sources this file. Sourced (". ./path.sh")
# from the recipe directory by asr.sh and local/*.sh.
CIFASR_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../../.." && pwd)
export CIFASR_ROOT
# tools/venv (made by tools/setup.sh) holds the installed cifasr: no PYTHONPATH needed.
# shellcheck disable=SC1091
. "${CIFASR_ROOT}/tools/activate_python.sh"
# Kaldi-style tools (run.py, fix_data_dir.sh ...).
export PATH="${CIFASR_ROOT}/utils:${PATH}"
# Byte-order sorting, as Kaldi files need; Python still reads and writes UTF-8 (PEP 538/540).
export LC_ALL=C
export PYTHONIOENCODING=UTF-8
# glibc otherwise returns PyTorch's large CPU buffers to the kernel on free and page-faults them
# back on every step (27-36% of a CPU training step measured); keep them mapped.
export GLIBC_TUNABLES=${GLIBC_TUNABLES:-glibc.malloc.mmap_max=0:glibc.malloc.trim_threshold=68719476736}
