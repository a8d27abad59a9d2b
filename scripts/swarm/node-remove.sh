#!/usr/bin/env bash
# node-remove.sh — drain, demote and remove a node that left the config (run on a manager).
# Usage: bash -s -- --owner NAME --node-id ID --drain-timeout SECONDS [--stateful SERVICE ...] < node-remove.sh
#   --owner          the node resource being deleted: the node is removed only while its
#                    com.medianest.owner label (node-config.sh) names it or is unset, so
#                    the delete left behind by a host renamed in config does nothing
#   --node-id        swarm node ID to remove
#   --drain-timeout  max seconds to wait for its tasks to move away (0-86400)
#   --stateful       once per single-instance stateful service (Postgres, MinIO, redis-master,
#                    monitoring): while the node runs a task of one, it is not drained nor
#                    removed (the task would move, its data would not) unless the node carries
#                    the label com.medianest.release-stateful=true (hosts[].releaseStateful).
#                    This runs as the resource's delete, with the arguments stored at its last
#                    update: it reads the release label from the node, never from its arguments.
# Output: "ok:"/"changed:" lines on stdout; "error: ..." on stderr + non-zero exit.
set -euo pipefail

# shellcheck source-path=SCRIPTDIR source=../lib/host-lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/../lib/host-lib.sh"

usage() { printf 'usage: node-remove.sh --owner NAME --node-id ID --drain-timeout SECONDS [--stateful SERVICE ...]\n' >&2; exit 2; }

RELEASE_LABEL=com.medianest.release-stateful

# stateful_tasks NODE SERVICE...: the listed services with a task meant to run on NODE, space-separated.
# Task names are SERVICE.SLOT or SERVICE.NODEID, unindented outside table formats
# (docker/cli cli/command/task/print.go, Print).
stateful_tasks() {
  local node="$1" names name held=""
  shift
  names="$(docker node ps "$node" --filter desired-state=running --format '{{.Name}}')" \
    || die "could not list the tasks of node $node (see above); not removing it"
  local -A wanted=() found=()
  for name in "$@"; do wanted[$name]=1; done
  while IFS= read -r name; do
    [ -n "$name" ] || continue
    name="${name%.*}"
    if [ -n "${wanted[$name]+set}" ] && [ -z "${found[$name]+set}" ]; then found[$name]=1; held+="${held:+ }$name"; fi
  done <<<"$names"
  printf '%s' "$held"
}

# Count tasks still meant to run on the node; a failed query counts as "not yet drained".
running_tasks() {
  local out
  out="$(docker node ps "$1" --filter desired-state=running -q 2>/dev/null)" || { printf '1'; return 0; }
  if [ -z "$out" ]; then printf '0'; else printf '%s\n' "$out" | sort -u | wc -l; fi
}

main() {
  parse_flags "owner node-id drain-timeout stateful*" "$@"
  require_flags owner node-id drain-timeout
  check_name owner
  local -a stateful
  mapfile -t stateful < <(flag_values stateful)
  local service
  for service in "${stateful[@]}"; do
    [[ "$service" =~ ^[A-Za-z0-9][A-Za-z0-9_-]*$ ]] || bad_arg "--stateful '$service' is not a service name"
  done
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

  # Before anything changes: a node still holding a single-instance stateful task stays.
  if [ "${#stateful[@]}" -gt 0 ]; then
    local release held
    release="$(docker node inspect -f "{{index .Spec.Labels \"$RELEASE_LABEL\"}}" "$node")" \
      || die "'docker node inspect $node' failed (see above)"
    held="$(stateful_tasks "$node" "${stateful[@]}")"
    if [ -n "$held" ] && [ "$release" != true ]; then
      die "node $node still runs $held, whose data is on that host's disk and would not move with the task; not draining or removing it. Move the data first, then release the node: put the host back into config with releaseStateful: true and apply (or, on a manager, 'docker node update --label-add $RELEASE_LABEL=true $node'), then remove it again (README: Removing a host)"
    fi
    if [ -n "$held" ]; then printf 'ok: node %s released (%s=true): removing it although it runs %s\n' "$node" "$RELEASE_LABEL" "$held"; fi
  fi

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
