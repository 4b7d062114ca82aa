# How parallel jobs run (see ../../TEMPLATE/asr1/cmd.sh to use a cluster).
# shellcheck disable=SC1091
. "$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/../../TEMPLATE/asr1/cmd.sh"
