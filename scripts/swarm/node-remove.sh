#!/usr/bin/env bash
# node-remove.sh — drain, demote and remove a node that left the config (run on a manager).
# Usage: bash -s -- --owner NAME --node-id ID --drain-timeout SECONDS < node-remove.sh
#   --owner          the node resource being deleted: the node is removed only while its
#                    com.medianest.owner label (node-config.sh) names it or is unset, so
#                    the delete left behind by a host renamed in config does nothing
#   --node-id        swarm node ID to remove
#   --drain-timeout  max seconds to wait for its tasks to move away (0-86400)
# Output: "ok:"/"changed:" lines on stdout; "error: ..." on stderr + non-zero exit.
set -euo pipefail

# shellcheck source-path=SCRIPTDIR source=../lib/host-lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/../lib/host-lib.sh"

usage() { printf 'usage: node-remove.sh --owner NAME --node-id ID --drain-timeout SECONDS\n' >&2; exit 2; }

# Count tasks still meant to run on the node; a failed query counts as "not yet drained".
running_tasks() {
  local out
  out="$(docker node ps "$1" --filter desired-state=running -q 2>/dev/null)" || { printf '1'; return 0; }
  if [ -z "$out" ]; then printf '0'; else printf '%s\n' "$out" | sort -u | wc -l; fi
}

main() {
  parse_flags "owner node-id drain-timeout" "$@"
  require_flags owner node-id drain-timeout
  check_name owner
  local owner="${OPT[owner]}" node="${OPT[node-id]}" timeout_s="${OPT[drain-timeout]}"
  [[ "$node" =~ ^[A-Za-z0-9]+$ ]] || bad_arg "--node-id '$node' is not a swarm node ID"
  if ! [[ "$timeout_s" =~ ^[0-9]{1,5}$ ]] || (( 10#$timeout_s > 86400 )); then
    bad_arg "--drain-timeout '$timeout_s' must be an integer between 0 and 86400"
  fi
  timeout_s=$((10#$timeout_s))
  exec </dev/null

  require_manager node-remove.sh
  # Exact ID match: 'docker node inspect' would also accept names and ID prefixes.
  local ids
  ids="$(docker node ls --format '{{.ID}}')" || die "'docker node ls' failed (see above)"
  if ! grep -qx -- "$node" <<<"$ids"; then
    printf 'ok: node %s not in swarm\n' "$node"
    return 0
  fi
  local current_owner
  current_owner="$(docker node inspect -f '{{index .Spec.Labels "com.medianest.owner"}}' "$node")" \
    || die "'docker node inspect $node' failed (see above)"
  if [ -n "$current_owner" ] && [ "$current_owner" != "$owner" ]; then
    printf 'ok: node %s now managed by %s, not %s; not removing\n' "$node" "$current_owner" "$owner"
    return 0
  fi
  [ "$node" != "$(docker info --format '{{.Swarm.NodeID}}')" ] \
    || die "node $node is the manager running this script; run node-remove.sh on another manager"

  if [ "$(docker node inspect -f '{{.Spec.Availability}}' "$node")" != drain ]; then
    docker node update --availability drain "$node" >/dev/null \
      || die "could not drain node $node (see above)"
    printf 'changed: node %s availability drain\n' "$node"
  fi

  # Bounded wait for the orchestrator to move tasks off the node.
  local deadline=$(( SECONDS + timeout_s )) left
  left="$(running_tasks "$node")"
  while [ "$left" -gt 0 ] && (( SECONDS < deadline )); do
    sleep 2
    left="$(running_tasks "$node")"
  done
  if [ "$left" -eq 0 ]; then
    printf 'changed: node %s drained\n' "$node"
  else
    printf 'changed: node %s drain timed out after %ss with %s task(s) still running; removing anyway\n' \
      "$node" "$timeout_s" "$left"
  fi

  # Demote first: force-removing a manager would leave a dead raft member and can cost quorum.
  if [ "$(docker node inspect -f '{{.Spec.Role}}' "$node")" = manager ]; then
    docker node demote "$node" >/dev/null \
      || die "could not demote node $node (see above); a swarm must keep at least one manager"
    printf 'changed: node %s demoted\n' "$node"
  fi

  docker node rm --force "$node" >/dev/null || die "'docker node rm --force $node' failed (see above)"
  printf 'changed: node %s removed\n' "$node"
}

main "$@"
