# Sourced by the utils/*.sh wrappers: sets CIFASR_PY to the Python that has cifasr installed.
# Order: $CIFASR_PYTHON, the repository's tools/venv, then python3 from PATH.
_cifasr_root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
if [ -n "${CIFASR_PYTHON:-}" ]; then
    CIFASR_PY=${CIFASR_PYTHON}
elif [ -x "${_cifasr_root}/tools/venv/bin/python" ]; then
    CIFASR_PY=${_cifasr_root}/tools/venv/bin/python
else
    CIFASR_PY=python3
fi
unset _cifasr_root
