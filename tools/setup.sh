#!/usr/bin/env bash
# Create tools/venv and install cifasr into it, on a fresh machine or again (idempotent).
#
#   tools/setup.sh                 # venv + Python deps + optional system tools (sclite, sox, espeak-ng)
#   tools/setup.sh --no-system     # skip the Debian packages
#
# torch is installed first and pinned by a constraints file, so no other requirement can replace it
# (an unpinned torch pulls several GB of CUDA packages on a CPU machine). When the system Python
# already has a torch (a GPU machine with its CUDA build), the venv reuses it.
# Environment: PYTHON (interpreter, default python3), TORCH_SPEC (default torch==2.13.0),
# TORCH_INDEX_URL (optional pip index for torch), CIFASR_EXTRAS (default plot,test,onnx: the ONNX
# export and onnxruntime backend are tested in CI).
set -euo pipefail

system=true
for arg in "$@"; do
    case "$arg" in
        --no-system) system=false ;;
        -h|--help) sed -n '2,13p' "$0"; exit 0 ;;
        *) echo "$0: unknown option '$arg' (use --no-system or --help)" >&2; exit 1 ;;
    esac
done

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
venv="$root/tools/venv"
python=${PYTHON:-python3}
torch_spec=${TORCH_SPEC:-torch==2.13.0}
extras=${CIFASR_EXTRAS:-plot,test,onnx}
log() { echo "[tools/setup.sh] $*"; }

# --- optional system tools: sclite (Debian sctk), sox, espeak-ng, a CJK font -------------------
if $system; then
    missing=()
    [ -x /usr/lib/sctk/bin/sclite ] || command -v sclite >/dev/null || missing+=(sctk)
    command -v sox >/dev/null || missing+=(sox)
    command -v espeak-ng >/dev/null || missing+=(espeak-ng)
    # a font with Chinese characters for the CIF firing plots (1.8 MB)
    [ -f /usr/share/fonts/truetype/droid/DroidSansFallbackFull.ttf ] || missing+=(fonts-droid-fallback)
    if [ ${#missing[@]} -gt 0 ]; then
        if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
            log "installing Debian packages: ${missing[*]}"
            if ! { DEBIAN_FRONTEND=noninteractive apt-get update -qq \
                   && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null; }; then
                log "WARNING: apt-get could not install ${missing[*]}; scoring falls back to the" \
                    "built-in scorer and mini_zh needs espeak-ng"
            fi
        else
            log "NOTE: optional tools missing (${missing[*]}); install them with your package manager"
        fi
    fi
fi

# --- virtualenv with torch first ----------------------------------------------------------------
if [ ! -x "$venv/bin/python" ]; then
    venv_opts=()
    if "$python" -c "import torch" >/dev/null 2>&1; then
        log "reusing the system Python's torch ($("$python" -c 'import torch; print(torch.__version__)'))"
        venv_opts+=(--system-site-packages)
    fi
    log "creating $venv"
    "$python" -m venv "${venv_opts[@]}" "$venv"
fi
pip=("$venv/bin/python" -m pip --disable-pip-version-check)

if ! "$venv/bin/python" -c "import torch" >/dev/null 2>&1; then
    log "installing $torch_spec"
    "${pip[@]}" install -q ${TORCH_INDEX_URL:+--index-url "$TORCH_INDEX_URL"} "$torch_spec"
fi
torch_version=$("$venv/bin/python" -W ignore -c "import torch; print(torch.__version__)" 2>/dev/null)
constraints="$root/tools/.installed-constraints.txt"
echo "torch==$torch_version" > "$constraints"

# --- cifasr and its requirements, skipped when nothing changed ----------------------------------
stamp="$root/tools/.installed-stamp"
want=$(cat "$root/setup.py" "$0" | sha1sum | cut -d' ' -f1)-$extras-$torch_version
if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ] && "$venv/bin/python" -c "import cifasr" 2>/dev/null; then
    log "up to date (torch $torch_version)"
    exit 0
fi
log "installing cifasr[$extras] (torch held at $torch_version)"
"${pip[@]}" install -q -c "$constraints" -e "$root[$extras]"
after=$("$venv/bin/python" -W ignore -c "import torch; print(torch.__version__)" 2>/dev/null)
if [ "$after" != "$torch_version" ]; then
    echo "[tools/setup.sh] ERROR: torch changed from $torch_version to $after during install" >&2
    exit 1
fi
echo "$want" > "$stamp"
log "done: $("$venv/bin/python" -c 'import cifasr, torch; print("cifasr", cifasr.__version__, "torch", torch.__version__)')"
