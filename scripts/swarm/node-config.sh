#!/usr/bin/env bash
# node-config.sh — reconcile one node's role, availability and labels (run on a manager).
# Usage: bash -s -- --owner NAME --node-id ID --role ROLE --availability STATE
#                    [--label KEY=VALUE ...] < node-config.sh
#   --owner         the resource that manages this node: kept as the node label
#                   com.medianest.owner, so that only it removes the node (node-remove.sh)
#   --node-id       swarm node ID (or name)
#   --role          manager|worker
#   --availability  active|pause|drain
#   --label         once per label: the node's complete label set (besides com.medianest.owner);
#                   labels not listed are removed
# Output: one "ok:"/"changed:" line per item on stdout; "error: ..." on stderr + non-zero exit.
set -euo pipefail

# shellcheck source-path=SCRIPTDIR source=../lib/host-lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/../lib/host-lib.sh"

usage() { printf 'usage: node-config.sh --owner NAME --node-id ID --role manager|worker --availability active|pause|drain [--label KEY=VALUE ...]\n' >&2; exit 2; }

OWNER_LABEL=com.medianest.owner

main() {
  parse_flags "owner node-id role availability label*" "$@"
  require_flags owner node-id role availability
  check_name owner
  [[ "${OPT[node-id]}" =~ ^[A-Za-z0-9][A-Za-z0-9._-]*$ ]] || bad_arg "--node-id '${OPT[node-id]}' is not a valid node ID or name"
  check_choice role manager worker
  check_choice availability active pause drain
  local owner="${OPT[owner]}" node="${OPT[node-id]}" role="${OPT[role]}" availability="${OPT[availability]}"
  local -a pairs
  mapfile -t pairs < <(flag_values label)

  local -A want=()
  local -a want_keys=()
  local pair key value
  for pair in "${pairs[@]}"; do
    [[ "$pair" == *=* ]] || die "label '$pair' must be KEY=VALUE"
    key="${pair%%=*}"; value="${pair#*=}"
    [[ "$key" =~ ^[A-Za-z0-9._-]+$ ]] || die "label key '$key' must match ^[A-Za-z0-9._-]+\$"
    [ "$key" != "$OWNER_LABEL" ] || die "label '$OWNER_LABEL' is managed by this script; do not pass it"
    [[ "$value" != *$'\n'* ]] || die "label '$key' value must not contain newlines"
    [ -z "${want[$key]+set}" ] || die "label '$key' given twice; pass each label once"
    want[$key]="$value"
    want_keys+=("$key")
  done
  want[$OWNER_LABEL]="$owner"
  want_keys+=("$OWNER_LABEL")
  exec </dev/null

  require_manager node-config.sh
  docker node inspect "$node" >/dev/null 2>&1 || die "node '$node' not found in this swarm; check the node ID ('docker node ls')"

  # --- role
  local cur_role
  cur_role="$(docker node inspect -f '{{.Spec.Role}}' "$node")"
  if [ "$cur_role" = "$role" ]; then
    printf 'ok: node %s role %s\n' "$node" "$role"
  else
    if [ "$role" = manager ]; then
      docker node promote "$node" >/dev/null || die "'docker node promote $node' failed (see above)"
    else
      docker node demote "$node" >/dev/null \
        || die "'docker node demote $node' failed (see above); a swarm must keep at least one manager"
    fi
    printf 'changed: node %s role %s -> %s\n' "$node" "$cur_role" "$role"
  fi

  # --- availability
  local cur_avail
  cur_avail="$(docker node inspect -f '{{.Spec.Availability}}' "$node")"
  if [ "$cur_avail" = "$availability" ]; then
    printf 'ok: node %s availability %s\n' "$node" "$availability"
  else
    docker node update --availability "$availability" "$node" >/dev/null \
      || die "'docker node update --availability $availability $node' failed (see above)"
    printf 'changed: node %s availability %s -> %s\n' "$node" "$cur_avail" "$availability"
  fi

  # --- labels: computed as one batch so the node is updated (and its tasks re-evaluated) once.
  local -A have=()
  local line
  while IFS= read -r line; do
    [ -n "$line" ] || continue
    have[${line%%=*}]="${line#*=}"
  done < <(docker node inspect -f '{{range $k,$v := .Spec.Labels}}{{$k}}={{$v}}{{"\n"}}{{end}}' "$node")

  local -a update=() report=()
  for key in "${want_keys[@]}"; do
    if [ -n "${have[$key]+set}" ] && [ "${have[$key]}" = "${want[$key]}" ]; then
      report+=("ok: node $node label $key")
    else
      update+=(--label-add "$key=${want[$key]}")
      report+=("changed: node $node label $key=${want[$key]}")
    fi
  done
  local -a stale=()
  for key in "${!have[@]}"; do
    [ -n "${want[$key]+set}" ] || stale+=("$key")
  done
  if [ "${#stale[@]}" -gt 0 ]; then
    mapfile -t stale < <(printf '%s\n' "${stale[@]}" | LC_ALL=C sort)
    for key in "${stale[@]}"; do
      update+=(--label-rm "$key")
      report+=("changed: node $node label $key removed")
    done
  fi
  if [ "${#update[@]}" -gt 0 ]; then
    docker node update "${update[@]}" "$node" >/dev/null \
      || die "'docker node update' of labels on $node failed (see above)"
  fi
  if [ "${#report[@]}" -gt 0 ]; then
    printf '%s\n' "${report[@]}"
  else
    printf 'ok: node %s labels (none)\n' "$node"
  fi
}

main "$@"
