#!/usr/bin/env bash
# leave.sh — make this host leave any swarm (delete step of a join).
# Usage: bash -s < leave.sh        (no arguments)
# Caution: on the last manager this destroys the swarm's state on this host (that is the intent
# of a delete); remove other nodes first with node-remove.sh from a manager.
# Output: one "ok:"/"changed:" line on stdout; "error: ..." on stderr + non-zero exit.
set -euo pipefail

# Code lives in functions started from the last line so `bash -s` reads it all before docker runs.

die() { printf 'error: %s\n' "$*" >&2; exit 1; }

usage() {
  printf 'usage: leave.sh (takes no arguments)\n' >&2
  exit 2
}

main() {
  [ "$#" -eq 0 ] || usage
  exec </dev/null

  if ! command -v docker >/dev/null 2>&1; then
    printf 'ok: docker not installed; not in a swarm\n'
    return 0
  fi
  local state
  state="$(docker info --format '{{.Swarm.LocalNodeState}}' 2>/dev/null)" \
    || die "docker daemon is not answering 'docker info'; start dockerd and re-run"
  case "$state" in
    inactive)
      printf 'ok: not in a swarm\n'
      ;;
    active|locked|pending|error)
      # --force: also works for managers and locked/pending nodes; bounded in case the daemon hangs.
      timeout 120 docker swarm leave --force >/dev/null \
        || die "'docker swarm leave --force' failed (see above); inspect 'docker info' and retry"
      printf 'changed: left swarm (was %s)\n' "$state"
      ;;
    *)
      die "unexpected swarm state '$state'; inspect 'docker info'"
      ;;
  esac
}

main "$@"
