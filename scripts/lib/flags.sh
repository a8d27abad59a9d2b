#!/usr/bin/env bash
# lib/flags.sh: the one argument convention of every MediaNest script, `--name value`
# pairs. Sourced, never run (loading it only defines functions); the program bundles it
# into each script it sends (scripts/loader.ts), so a host never needs this file.
#
# The sourcing script provides:
#   OPT      `declare -A OPT=()`; parse_flags fills it
#   usage()  prints the script's usage to stderr and exits 2
# Exit status convention: argument errors exit 2 before anything has been changed
# (bad_arg), any other failure exits 1 (die).

die() {
  printf 'error: %s\n' "$*" >&2
  exit 1
}

# Argument errors exit 2 before anything has been changed.
bad_arg() {
  printf 'error: %s\n' "$*" >&2
  usage
}

# parse_flags "allowed names" ARGS...: fills OPT[name]=value from --name value pairs
# (-h or --help prints the usage).
#   name!  a bare switch: --name alone sets OPT[name]=1
#   name*  repeatable: each value is kept, one per line (flag_values prints them)
#   ...    the words after a literal -- are kept in the array REST
parse_flags() {
  local allowed=" $1 " name newline=$'\n'
  shift
  REST=()
  while [ "$#" -gt 0 ]; do
    case "$1" in
      --)
        [[ "$allowed" == *" ... "* ]] || bad_arg "unexpected '--'; this script takes no trailing arguments"
        shift
        REST=("$@")
        return 0
        ;;
      -h | --help) usage ;;
      --?*) name="${1#--}" ;;
      *) bad_arg "unexpected argument '$1'; every value follows its --flag" ;;
    esac
    if [[ "$allowed" == *" $name! "* ]]; then
      OPT["$name"]=1
      shift
      continue
    fi
    [[ "$name" =~ ^[A-Za-z0-9][A-Za-z0-9-]*$ ]] || bad_arg "unknown flag --$name"
    [ "$#" -ge 2 ] || bad_arg "--$name needs a value"
    if [[ "$allowed" == *" $name* "* ]]; then
      [[ "$2" != *$'\n'* ]] || bad_arg "a value of --$name must not contain a line break"
      OPT["$name"]="${OPT[$name]+${OPT[$name]}$newline}$2"
    else
      [[ "$allowed" == *" $name "* ]] || bad_arg "unknown flag --$name"
      [ -z "${OPT[$name]+set}" ] || bad_arg "--$name is given twice"
      OPT["$name"]="$2"
    fi
    shift 2
  done
}

# flag_values NAME: the values of a repeatable --NAME, one per line (nothing when absent).
flag_values() {
  if [ -n "${OPT[$1]+set}" ]; then printf '%s\n' "${OPT[$1]}"; fi
}

# require_flags NAME...: every --NAME was given (an empty value counts).
require_flags() {
  local name
  for name in "$@"; do
    [ -n "${OPT[$name]+set}" ] || bad_arg "--$name is required"
  done
}

# require_values NAME...: every --NAME was given a non-empty value.
require_values() {
  local name
  for name in "$@"; do
    [ -n "${OPT[$name]:-}" ] || bad_arg "--$name is required"
  done
}
