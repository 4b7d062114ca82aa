# The shared recipe environment (tools/venv, utils/ on PATH, LC_ALL=C, allocator setting).
# shellcheck disable=SC1091
. "$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/../../TEMPLATE/asr1/path.sh"
