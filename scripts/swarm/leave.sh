#!/usr/bin/env bash
# leave.sh — make this host leave any swarm (delete step of a join).
# Usage: bash -s -- --owner NAME < leave.sh
#   --owner  the membership resource being deleted. The host leaves only if OWNER still owns
#          its membership (/var/lib/medianest/owners/swarm-member, written by init.sh/join.sh),
#          or no owner is recorded: a host renamed in config was claimed by its new resource
#          first, and the old one's delete must not take a live node out of the swarm.
# Caution: on the last manager this destroys the swarm's state on this host (that is the intent
# of a delete); remove other nodes first with node-remove.sh from a manager.
# Output: one "ok:"/"changed:" line on stdout; "error: ..." on stderr + non-zero exit.
set -euo pipefail

# shellcheck source-path=SCRIPTDIR source=../lib/host-lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/../lib/host-lib.sh"

usage() { printf 'usage: leave.sh --owner NAME\n' >&2; exit 2; }

main() {
  parse_flags "owner" "$@"
  require_flags owner
  check_name owner
  local owner="${OPT[owner]}" mark
  mark="$(membership_mark)"
  exec </dev/null

  if [ -f "$mark" ]; then
    local current
    current="$(cat "$mark")"
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
      rm -f "$mark"
      printf 'ok: not in a swarm\n'
      ;;
    active|locked|pending|error)
      # --force: also works for managers and locked/pending nodes; bounded in case the daemon hangs.
      timeout 120 docker swarm leave --force >/dev/null \
        || die "'docker swarm leave --force' failed (see above); inspect 'docker info' and retry"
      rm -f "$mark"
      printf 'changed: left swarm (was %s)\n' "$state"
      ;;
    *)
      die "unexpected swarm state '$state'; inspect 'docker info'"
      ;;
  esac
}

main "$@"
