#!/usr/bin/env bash
# docker-access.sh — add the SSH user to the docker group so the docker provider (which talks
# to the engine over `ssh user@leader docker system dial-stdio`) can use the socket.
# Usage: bash -s -- --user USER < docker-access.sh
# Output: one "ok:"/"changed:" line on stdout; "error: ..." on stderr + non-zero exit.
set -euo pipefail

# shellcheck source-path=SCRIPTDIR source=../lib/host-lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/../lib/host-lib.sh"

usage() { printf 'usage: docker-access.sh --user USER\n' >&2; exit 2; }

main() {
  parse_flags "user" "$@"
  require_flags user
  local user="${OPT[user]}"
  [[ "$user" =~ ^[a-z_][a-z0-9_-]*$ ]] || bad_arg "--user '$user' is not a user name"
  exec </dev/null

  id -u "$user" >/dev/null 2>&1 || die "user '$user' does not exist on $(hostname)"
  getent group docker >/dev/null || die "group 'docker' does not exist; is Docker Engine installed?"
  if id -nG "$user" | tr ' ' '\n' | grep -qx docker; then
    printf 'ok: %s in group docker\n' "$user"
  else
    usermod -aG docker "$user"
    # Group membership applies to new sessions only; later SSH connections are new sessions.
    printf 'changed: added %s to group docker\n' "$user"
  fi
}

main "$@"
