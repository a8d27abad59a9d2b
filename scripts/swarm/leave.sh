#!/usr/bin/env bash
# leave.sh — make this host leave any swarm (delete step of a join).
# Usage: bash -s -- OWNER < leave.sh
#   OWNER  the membership resource being deleted. The host leaves only if OWNER still owns
#          its membership (/var/lib/medianest/owners/swarm-member, written by init.sh/join.sh),
#          or no owner is recorded: a host renamed in config was claimed by its new resource
#          first, and the old one's delete must not take a live node out of the swarm.
# Caution: on the last manager this destroys the swarm's state on this host (that is the intent
# of a delete); remove other nodes first with node-remove.sh from a manager.
# Output: one "ok:"/"changed:" line on stdout; "error: ..." on stderr + non-zero exit.
set -euo pipefail

# Code lives in functions started from the last line so `bash -s` reads it all before docker runs.

die() { printf 'error: %s\n' "$*" >&2; exit 1; }

usage() {
  printf 'usage: leave.sh OWNER\n' >&2
  exit 2
}

OWNER_MARK=/var/lib/medianest/owners/swarm-member

main() {
  [ "$#" -eq 1 ] || usage
  local owner="$1"
  [[ "$owner" =~ ^[A-Za-z0-9][A-Za-z0-9._-]*$ ]] || die "OWNER '$owner' must be a resource name (letters, digits, . _ -)"
  exec </dev/null

  if [ -f "$OWNER_MARK" ]; then
    local current
    current="$(cat "$OWNER_MARK")"
    if [ "$current" != "$owner" ]; then
      printf 'ok: membership now owned by %s, not %s; not leaving\n' "$current" "$owner"
      return 0
    fi
  fi

  if ! command -v docker >/dev/null 2>&1; then
    printf 'ok: docker not installed; not in a swarm\n'
    return 0
  fi
  local state
  state="$(docker info --format '{{.Swarm.LocalNodeState}}' 2>/dev/null)" \
    || die "docker daemon is not answering 'docker info'; start dockerd and re-run"
  case "$state" in
    inactive)
      rm -f "$OWNER_MARK"
      printf 'ok: not in a swarm\n'
      ;;
    active|locked|pending|error)
      # --force: also works for managers and locked/pending nodes; bounded in case the daemon hangs.
      timeout 120 docker swarm leave --force >/dev/null \
        || die "'docker swarm leave --force' failed (see above); inspect 'docker info' and retry"
      rm -f "$OWNER_MARK"
      printf 'changed: left swarm (was %s)\n' "$state"
      ;;
    *)
      die "unexpected swarm state '$state'; inspect 'docker info'"
      ;;
  esac
}

main "$@"
