#!/usr/bin/env bash
# Command-line options for recipe scripts, Kaldi style (this is our own implementation).
#
# Source it after the defaults are set:  . utils/parse_options.sh
# It turns "--foo_bar value", "--foo-bar value" or "--foo_bar=value" into foo_bar=value for every
# variable foo_bar that the script already defines, and shifts the options off "$@" so that the
# positional arguments remain. Parsing stops at the first argument not starting with "--"
# (or after "--"). A variable whose default is true/false only takes true or false.
#   --config FILE   sources FILE (shell assignments) at that point of the command line
#   --help, -h      prints $help_message (if the script set it) and exits 0
# An unknown option is an error that names it.

while [ $# -gt 0 ]; do
    case "$1" in
        --help|-h)
            if [ -n "${help_message:-}" ]; then printf '%s\n' "${help_message}" >&2
            else echo "$0: no help message; the options are the variables at the top of $0" >&2; fi
            exit 0 ;;
        --) shift; break ;;
        --*=*) _po_name=${1%%=*}; _po_value=${1#*=}; shift ;;
        --*)
            if [ $# -lt 2 ]; then echo "$0: option $1 needs a value" >&2; exit 1; fi
            _po_name=$1; _po_value=$2; shift 2 ;;
        *) break ;;
    esac
    _po_name=${_po_name#--}
    _po_name=${_po_name//-/_}
    if [ "${_po_name}" = config ]; then
        if [ ! -f "${_po_value}" ]; then echo "$0: --config ${_po_value}: no such file" >&2; exit 1; fi
        # shellcheck disable=SC1090
        . "${_po_value}"
        continue
    fi
    if ! [[ "${_po_name}" =~ ^[A-Za-z_][A-Za-z0-9_]*$ ]] || [ -z "${!_po_name+set}" ]; then
        echo "$0: invalid option --${_po_name} (no such variable in $0; see --help)" >&2
        exit 1
    fi
    _po_old=${!_po_name}
    if { [ "${_po_old}" = true ] || [ "${_po_old}" = false ]; } \
        && [ "${_po_value}" != true ] && [ "${_po_value}" != false ]; then
        echo "$0: --${_po_name} takes true or false, got '${_po_value}'" >&2
        exit 1
    fi
    printf -v "${_po_name}" '%s' "${_po_value}"
done
unset _po_name _po_value _po_old
true
