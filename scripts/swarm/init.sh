#!/usr/bin/env bash
# init.sh — create the swarm on the first manager (or confirm it exists) and report its secrets.
# Usage: bash -s -- --owner NAME --advertise-addr ADDR --listen-addr ADDR
#                    [--data-path-addr ADDR] --autolock true|false < init.sh
#   --owner           the resource that manages this host's membership; recorded in
#                     /var/lib/medianest/owners/swarm-member so that only it makes the host leave
#   --advertise-addr  address other nodes use to reach this manager (IP or interface, optional :port)
#   --listen-addr     address to bind the swarm API on (":2377" is appended)
#   --data-path-addr  address for VXLAN data traffic; without it, the advertise address
#   --autolock        encrypt manager state at rest, requiring an unlock key on restart
# Output: "ok:"/"changed:" lines on STDERR; stdout is exactly one JSON line:
#   {"clusterId":"...","nodeId":"...","workerToken":"...","managerToken":"...","unlockKey":"..."}
set -euo pipefail

# shellcheck source-path=SCRIPTDIR source=../lib/host-lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/../lib/host-lib.sh"

usage() { printf 'usage: init.sh --owner NAME --advertise-addr ADDR --listen-addr ADDR [--data-path-addr ADDR] --autolock true|false\n' >&2; exit 2; }

# Run a read-only docker query, retrying briefly (bounded) while a fresh manager settles.
query() {
  local attempt out
  for attempt in 1 2 3 4 5 6 7 8 9 10; do
    if out="$(docker "$@" 2>/dev/null)"; then printf '%s' "$out"; return 0; fi
    [ "$attempt" -lt 10 ] && sleep 1
  done
  die "'docker $1 $2' kept failing; inspect 'docker info' on this manager"
}

check_value() {
  local name="$1" value="$2" re="$3"
  [ -n "$value" ] || die "could not read $name from docker; inspect 'docker info'"
  [[ "$value" =~ $re ]] || die "unexpected characters in $name from docker; refusing to emit JSON"
}

main() {
  parse_flags "owner advertise-addr listen-addr data-path-addr autolock" "$@"
  require_flags owner advertise-addr listen-addr autolock
  check_name owner
  check_address advertise-addr port
  check_address listen-addr
  if [ -n "${OPT[data-path-addr]:-}" ]; then check_address data-path-addr; fi
  check_choice autolock true false
  local owner="${OPT[owner]}" advertise="${OPT[advertise-addr]}" listen="${OPT[listen-addr]}" data_path="${OPT[data-path-addr]:-}" autolock="${OPT[autolock]}"
  exec </dev/null

  require_docker
  local state
  state="$(docker info --format '{{.Swarm.LocalNodeState}}')"
  case "$state" in
    inactive)
      local -a args=(swarm init --advertise-addr "$advertise" --listen-addr "$(with_port "$listen" 2377)")
      if [ -n "$data_path" ]; then args+=(--data-path-addr "$data_path"); fi
      if [ "$autolock" = true ]; then args+=(--autolock); fi
      # init prints the worker join command (a secret) on stdout: keep it out of logs.
      docker "${args[@]}" >/dev/null \
        || die "'docker swarm init' failed (see above); check that --advertise-addr/--listen-addr exist on this host"
      say "changed: swarm initialised (advertise $advertise, listen $(with_port "$listen" 2377))"
      ;;
    active)
      [ "$(docker info --format '{{.Swarm.ControlAvailable}}')" = true ] \
        || die "this node is a swarm worker, not a manager; run init on a manager, or 'docker swarm leave' here first"
      say "ok: swarm active on this manager"
      ;;
    locked)
      die "the swarm on this node is locked (autolock); run 'docker swarm unlock' with the unlock key, then re-run"
      ;;
    pending)
      die "this node is still joining another swarm; wait, or run 'docker swarm leave --force' and re-run"
      ;;
    *)
      die "unexpected swarm state '$state'; inspect 'docker info' (maybe 'docker swarm leave --force' and re-run)"
      ;;
  esac

  local current_autolock
  current_autolock="$(query info --format '{{if .Swarm.Cluster}}{{.Swarm.Cluster.Spec.EncryptionConfig.AutoLockManagers}}{{end}}')"
  if [ "$current_autolock" = "$autolock" ]; then
    say "ok: autolock $autolock"
  else
    # Prints the new unlock key on stdout when enabling: keep it out of logs (it is in the JSON).
    docker swarm update --autolock="$autolock" >/dev/null \
      || die "'docker swarm update --autolock=$autolock' failed (see above)"
    say "changed: autolock ${current_autolock:-unknown} -> $autolock"
  fi

  claim_membership "$owner"

  local cluster_id node_id worker_token manager_token unlock_key=""
  cluster_id="$(query info --format '{{if .Swarm.Cluster}}{{.Swarm.Cluster.ID}}{{end}}')"
  node_id="$(query info --format '{{.Swarm.NodeID}}')"
  worker_token="$(query swarm join-token -q worker)"
  manager_token="$(query swarm join-token -q manager)"
  if [ "$autolock" = true ]; then
    unlock_key="$(query swarm unlock-key -q)"
    # Unlock keys are "SWMKEY-1-" + standard base64, so '+' and '/' are legal (and JSON-safe).
    check_value unlockKey "$unlock_key" '^[A-Za-z0-9+/=-]+$'
  fi
  check_value clusterId "$cluster_id" '^[A-Za-z0-9-]+$'
  check_value nodeId "$node_id" '^[A-Za-z0-9-]+$'
  check_value workerToken "$worker_token" '^[A-Za-z0-9-]+$'
  check_value managerToken "$manager_token" '^[A-Za-z0-9-]+$'

  printf '{"clusterId":"%s","nodeId":"%s","workerToken":"%s","managerToken":"%s","unlockKey":"%s"}\n' \
    "$cluster_id" "$node_id" "$worker_token" "$manager_token" "$unlock_key"
}

main "$@"
