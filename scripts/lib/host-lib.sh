#!/usr/bin/env bash
# lib/host-lib.sh: helpers shared by the host and swarm scripts (scripts/host,
# scripts/swarm). Sourced, never run: loading it defines functions and the OPT array that
# parse_flags fills, nothing else (firewall.sh rebuilds its boot copy from `declare -f`).
# The program sends each script with this file and lib/flags.sh bundled in place of the
# source line below (scripts/loader.ts), so the stdin of a run is self-contained and its
# hash covers both.
#
# Every script keeps all its code in functions and calls `main "$@"` on its last line:
# fed to `bash -s`, bash has then read the whole script before any command runs, so no
# child (apt-get, docker) can swallow the unread rest of stdin.
#
# The sourcing script provides usage(), which prints its usage to stderr and exits 2.

# shellcheck source-path=SCRIPTDIR source=flags.sh
. "$(dirname "${BASH_SOURCE[0]}")/flags.sh"

declare -A OPT=()

# Progress on stderr, for scripts whose stdout is reserved for one JSON line.
say() { printf '%s\n' "$*" >&2; }

# check_name FLAG: a resource name (owners are the program's resource names).
check_name() {
  [[ "${OPT[$1]}" =~ ^[A-Za-z0-9][A-Za-z0-9._-]*$ ]] || bad_arg "--$1 '${OPT[$1]}' must be a resource name (letters, digits, . _ -)"
}

# check_choice FLAG WORD...: the value is one of the words.
check_choice() {
  local flag="$1" word
  shift
  for word in "$@"; do
    [ "${OPT[$flag]}" != "$word" ] || return 0
  done
  bad_arg "--$flag must be one of: $*; got '${OPT[$flag]}'"
}

# check_address FLAG [port]: host name, IPv4, interface name or IPv6 (bare or
# [bracketed]); with "port", an optional :port may follow.
check_address() {
  local plain='^([A-Za-z0-9][A-Za-z0-9._-]*|\[[0-9A-Fa-f:.]+\]|[0-9A-Fa-f]*:[0-9A-Fa-f:.]*)$'
  local with_port='^(([A-Za-z0-9][A-Za-z0-9._-]*|\[[0-9A-Fa-f:.]+\])(:[0-9]{1,5})?|[0-9A-Fa-f]*:[0-9A-Fa-f:.]*)$'
  if [ "${2:-}" = port ]; then
    [[ "${OPT[$1]}" =~ $with_port ]] || bad_arg "--$1 '${OPT[$1]}' must be an IP, host or interface name (optionally :port)"
  else
    [[ "${OPT[$1]}" =~ $plain ]] || bad_arg "--$1 '${OPT[$1]}' must be an IP, host or interface name without a port"
  fi
}

# ADDR:PORT, bracketing a bare IPv6 address so the port stays unambiguous.
with_port() {
  if [[ "$1" == *:* && "$1" != \[* ]]; then printf '[%s]:%s' "$1" "$2"; else printf '%s:%s' "$1" "$2"; fi
}

has_systemd() { [ -d /run/systemd/system ]; }

docker_ok() { docker info >/dev/null 2>&1; }

# Bounded wait: up to $1 seconds for the daemon to answer.
wait_for_docker() {
  local deadline=$((SECONDS + $1))
  while ((SECONDS < deadline)); do
    docker_ok && return 0
    sleep 1
  done
  docker_ok
}

require_docker() {
  command -v docker >/dev/null 2>&1 || die "docker CLI not found; run host/install-docker.sh first"
  docker_ok || die "docker daemon is not answering 'docker info'; start dockerd and re-run"
}

# require_manager SCRIPT: this host is a swarm manager (node changes need one).
require_manager() {
  command -v docker >/dev/null 2>&1 || die "docker CLI not found; run host/install-docker.sh first"
  local ca
  ca="$(docker info --format '{{.Swarm.ControlAvailable}}' 2>/dev/null)" \
    || die "docker daemon is not answering 'docker info'; start dockerd and re-run"
  [ "$ca" = true ] || die "this host is not a swarm manager; run $1 on a manager"
}

# Which resource owns this host's swarm membership: init.sh and join.sh record it, and
# leave.sh only acts for that owner.
membership_mark() { printf '%s' /var/lib/medianest/owners/swarm-member; }

claim_membership() {
  local owner="$1" mark
  mark="$(membership_mark)"
  if [ -f "$mark" ] && [ "$(cat "$mark")" = "$owner" ]; then
    say "ok: membership owned by $owner"
    return 0
  fi
  mkdir -p "$(dirname "$mark")"
  printf '%s\n' "$owner" >"$mark.tmp"
  mv -f "$mark.tmp" "$mark"
  say "changed: membership owned by $owner"
}
