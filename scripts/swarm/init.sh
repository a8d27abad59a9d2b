#!/usr/bin/env bash
# init.sh — create the swarm on the first manager (or confirm it exists) and report its secrets.
# Usage: bash -s -- OWNER ADVERTISE_ADDR LISTEN_ADDR DATA_PATH_ADDR AUTOLOCK < init.sh
#   OWNER           the resource that manages this host's membership; recorded in
#                   /var/lib/medianest/owners/swarm-member so that only it makes the host leave
#   ADVERTISE_ADDR  address other nodes use to reach this manager (IP or interface, optional :port)
#   LISTEN_ADDR     address to bind the swarm API on (":2377" is appended)
#   DATA_PATH_ADDR  address for VXLAN data traffic, or "" for the advertise address
#   AUTOLOCK        true|false — encrypt manager state at rest, requiring an unlock key on restart
# Output: "ok:"/"changed:" lines on STDERR; stdout is exactly one JSON line:
#   {"clusterId":"...","nodeId":"...","workerToken":"...","managerToken":"...","unlockKey":"..."}
set -euo pipefail

# Code lives in functions started from the last line so `bash -s` reads the whole script
# before docker could consume the unread rest of stdin.

die() { printf 'error: %s\n' "$*" >&2; exit 1; }
say() { printf '%s\n' "$*" >&2; }   # progress goes to stderr: stdout is reserved for JSON

usage() {
  printf 'usage: init.sh OWNER ADVERTISE_ADDR LISTEN_ADDR DATA_PATH_ADDR AUTOLOCK\n  DATA_PATH_ADDR may be ""; AUTOLOCK is true|false\n' >&2
  exit 2
}

# Host name, IPv4, interface name, IPv6 (bare or [bracketed]); ADDR_PORT_RE also allows ":port".
ADDR_RE='^([A-Za-z0-9][A-Za-z0-9._-]*|\[[0-9A-Fa-f:.]+\]|[0-9A-Fa-f]*:[0-9A-Fa-f:.]*)$'
ADDR_PORT_RE='^(([A-Za-z0-9][A-Za-z0-9._-]*|\[[0-9A-Fa-f:.]+\])(:[0-9]{1,5})?|[0-9A-Fa-f]*:[0-9A-Fa-f:.]*)$'

# ADDR:PORT, bracketing a bare IPv6 address so the port stays unambiguous.
with_port() {
  if [[ "$1" == *:* && "$1" != \[* ]]; then printf '[%s]:%s' "$1" "$2"; else printf '%s:%s' "$1" "$2"; fi
}

require_docker() {
  command -v docker >/dev/null 2>&1 || die "docker CLI not found; run host/install-docker.sh first"
  docker info >/dev/null 2>&1 || die "docker daemon is not answering 'docker info'; start dockerd and re-run"
}

# Run a read-only docker query, retrying briefly (bounded) while a fresh manager settles.
query() {
  local attempt out
  for attempt in 1 2 3 4 5 6 7 8 9 10; do
    if out="$(docker "$@" 2>/dev/null)"; then printf '%s' "$out"; return 0; fi
    [ "$attempt" -lt 10 ] && sleep 1
  done
  die "'docker $1 $2' kept failing; inspect 'docker info' on this manager"
}

OWNER_MARK=/var/lib/medianest/owners/swarm-member

# Record which resource owns this host's membership (leave.sh only acts for that owner).
claim_membership() {
  local owner="$1"
  if [ -f "$OWNER_MARK" ] && [ "$(cat "$OWNER_MARK")" = "$owner" ]; then
    say "ok: membership owned by $owner"
    return 0
  fi
  mkdir -p "$(dirname "$OWNER_MARK")"
  printf '%s\n' "$owner" >"$OWNER_MARK.tmp"
  mv -f "$OWNER_MARK.tmp" "$OWNER_MARK"
  say "changed: membership owned by $owner"
}

check_value() {
  local name="$1" value="$2" re="$3"
  [ -n "$value" ] || die "could not read $name from docker; inspect 'docker info'"
  [[ "$value" =~ $re ]] || die "unexpected characters in $name from docker; refusing to emit JSON"
}

main() {
  [ "$#" -eq 5 ] || usage
  local owner="$1" advertise="$2" listen="$3" data_path="$4" autolock="$5"
  [[ "$owner" =~ ^[A-Za-z0-9][A-Za-z0-9._-]*$ ]] || die "OWNER '$owner' must be a resource name (letters, digits, . _ -)"
  [[ "$advertise" =~ $ADDR_PORT_RE ]] || die "ADVERTISE_ADDR '$advertise' must be an IP, host or interface name (optionally :port)"
  [[ "$listen" =~ $ADDR_RE ]] || die "LISTEN_ADDR '$listen' must be an IP or interface name without a port (:2377 is appended)"
  if [ -n "$data_path" ] && ! [[ "$data_path" =~ $ADDR_RE ]]; then
    die "DATA_PATH_ADDR '$data_path' must be an IP or interface name without a port, or \"\""
  fi
  [[ "$autolock" =~ ^(true|false)$ ]] || die "AUTOLOCK must be 'true' or 'false', got '$autolock'"
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
        || die "'docker swarm init' failed (see above); check that ADVERTISE_ADDR/LISTEN_ADDR exist on this host"
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
