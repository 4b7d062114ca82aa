# Sourced by the recipes' path.sh: puts tools/venv first on PATH.
_cifasr_tools=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
if [ ! -x "$_cifasr_tools/venv/bin/python" ]; then
    echo "cifasr: $_cifasr_tools/venv is missing; run $_cifasr_tools/setup.sh first" >&2
    return 1 2>/dev/null || exit 1
fi
# shellcheck disable=SC1091
. "$_cifasr_tools/venv/bin/activate"
unset _cifasr_tools
