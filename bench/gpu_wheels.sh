#!/usr/bin/env bash
# Fetch, on this (networked) machine, the wheels that bench/gpu_check.sh needs on a GPU machine
# whose image has Python 3.12, torch, transformers, numpy, PyYAML and sentencepiece but no network
# and none of cifasr's other requirements. They go to .whl/ (ignored by git, ~2 MB); the device
# tool carries that folder (carry: [".whl"]) and gpu_check.sh installs them with --no-index.
#
#   bench/gpu_wheels.sh [--python-version 3.12]
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
pyver=3.12
[ "${1:-}" = --python-version ] && pyver=$2
grep -qxF "/.whl/" .git/info/exclude 2>/dev/null || echo "/.whl/" >> .git/info/exclude
mkdir -p .whl
platforms=()
for p in manylinux_2_28_x86_64 manylinux_2_27_x86_64 manylinux_2_17_x86_64 manylinux2014_x86_64 \
         manylinux1_x86_64; do
    platforms+=(--platform "$p")
done
python3 -m pip download -q --no-deps --only-binary=:all: --python-version "${pyver}" \
    --implementation cp "${platforms[@]}" -d .whl \
    kaldiio==2.18.1 kaldi-native-fbank==1.23.0 soundfile==0.14.0 cffi==2.0.0 pycparser==2.23 \
    humanfriendly==10.0 typeguard==4.6.1
ls -1 .whl
