#!/usr/bin/env bash
# join.sh — join this host to the swarm (or confirm it already belongs to the right one).
# Usage: { printf "MEDIANEST_JOIN_TOKEN='%s'\n" "$TOKEN"; cat join.sh; } |
#          bash -s -- OWNER ROLE LEADER_ADDR ADVERTISE_ADDR LISTEN_ADDR DATA_PATH_ADDR EXPECTED_CLUSTER_ID
#   MEDIANEST_JOIN_TOKEN SWMTKN-1-... join token, assigned on stdin ahead of the script: never an
#                        argument (sudo logs those, ps shows them), never printed; it reaches the
#                        engine in the body of POST /swarm/join, not in a docker CLI argument
#   OWNER                the resource that manages this host's membership; recorded in
#                        /var/lib/medianest/owners/swarm-member so that only it makes the host leave
#   ROLE                 manager|worker (must match the token's role)
#   LEADER_ADDR          an existing manager's address (":2377" is appended)
#   ADVERTISE_ADDR       address other nodes use to reach this node (IP or interface, optional :port)
#   LISTEN_ADDR          address to bind the swarm API on (":2377" is appended)
#   DATA_PATH_ADDR       address for VXLAN data traffic, or ""
#   EXPECTED_CLUSTER_ID  cluster ID reported by init.sh
# Output: "ok:"/"changed:" lines on STDERR; stdout is exactly one JSON line: {"nodeId":"..."}
set -euo pipefail

# Code lives in functions started from the last line so `bash -s` reads the whole script
# before docker could consume the unread rest of stdin.

die() { printf 'error: %s\n' "$*" >&2; exit 1; }
say() { printf '%s\n' "$*" >&2; }   # progress goes to stderr: stdout is reserved for JSON

usage() {
  printf 'usage: join.sh OWNER ROLE LEADER_ADDR ADVERTISE_ADDR LISTEN_ADDR DATA_PATH_ADDR EXPECTED_CLUSTER_ID\n  (MEDIANEST_JOIN_TOKEN assigned on stdin); ROLE is manager|worker; DATA_PATH_ADDR may be ""\n' >&2
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

swarm_state() { docker info --format '{{.Swarm.LocalNodeState}}'; }

# Bounded wait for the local node to become an active swarm member.
wait_active() {
  local deadline=$(( SECONDS + $1 )) state
  while :; do
    state="$(swarm_state 2>/dev/null || true)"
    [ "$state" = active ] && return 0
    (( SECONDS < deadline )) || return 1
    sleep 2
  done
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

# POST /swarm/join through `docker system dial-stdio` (the engine API over the CLI's own
# connection): the token travels in the request body, not in any process's arguments.
# Prints the engine's error message on failure.
engine_join() {
  local body="$1" length response status
  length="${#body}"
  response="$(printf 'POST /swarm/join HTTP/1.0\r\nHost: docker\r\nContent-Type: application/json\r\nContent-Length: %s\r\n\r\n%s' "$length" "$body" \
    | timeout 120 docker system dial-stdio 2>&1)" || true
  status="${response%%$'\n'*}"
  status="${status%$'\r'}"
  case "$status" in
    "HTTP/1."?" 200 "*) return 0 ;;
  esac
  # The body is the engine's JSON error ({"message":"..."}); it never echoes the token.
  printf '%s' "${response##*$'\r\n\r\n'}" | tr -d '\n' >&2
  printf '\n' >&2
  return 1
}

# Is the existing membership the swarm we were asked to join?
check_membership() {
  local expected="$1" leader_ep="$2" cluster_id managers
  cluster_id="$(docker info --format '{{if .Swarm.Cluster}}{{.Swarm.Cluster.ID}}{{end}}')"
  if [ -n "$cluster_id" ]; then
    [ "$cluster_id" = "$expected" ] \
      || die "already member of swarm $cluster_id (expected $expected); run \`docker swarm leave\` on this host first"
    return 0
  fi
  # Workers do not see the cluster object; recognise the swarm by its manager list instead.
  managers="$(docker info --format '{{range .Swarm.RemoteManagers}}{{.Addr}} {{end}}')"
  case " $managers " in
    *" $leader_ep "*) return 0 ;;
    *) die "already member of swarm with managers [${managers% }], which does not include $leader_ep; run \`docker swarm leave\` on this host first" ;;
  esac
}

main() {
  [ "$#" -eq 7 ] || usage
  local owner="$1" role="$2" leader="$3" advertise="$4" listen="$5" data_path="$6" expected="$7"
  local token="${MEDIANEST_JOIN_TOKEN:-}"
  [[ "$owner" =~ ^[A-Za-z0-9][A-Za-z0-9._-]*$ ]] || die "OWNER '$owner' must be a resource name (letters, digits, . _ -)"
  [[ "$role" =~ ^(manager|worker)$ ]] || die "ROLE must be 'manager' or 'worker', got '$role'"
  # Never echo the token, not even in errors.
  [[ "$token" =~ ^SWMTKN-[0-9]+-[A-Za-z0-9-]+$ ]] \
    || die "MEDIANEST_JOIN_TOKEN (assigned on stdin ahead of the script) is not a swarm join token (expected SWMTKN-1-...)"
  [[ "$leader" =~ $ADDR_RE ]] || die "LEADER_ADDR '$leader' must be an IP or host name without a port (:2377 is appended)"
  [[ "$advertise" =~ $ADDR_PORT_RE ]] || die "ADVERTISE_ADDR '$advertise' must be an IP, host or interface name (optionally :port)"
  [[ "$listen" =~ $ADDR_RE ]] || die "LISTEN_ADDR '$listen' must be an IP or interface name without a port (:2377 is appended)"
  if [ -n "$data_path" ] && ! [[ "$data_path" =~ $ADDR_RE ]]; then
    die "DATA_PATH_ADDR '$data_path' must be an IP or interface name without a port, or \"\""
  fi
  [[ "$expected" =~ ^[A-Za-z0-9]+$ ]] || die "EXPECTED_CLUSTER_ID '$expected' is not a swarm cluster ID"
  exec </dev/null

  require_docker
  local leader_ep state
  leader_ep="$(with_port "$leader" 2377)"
  state="$(swarm_state)"
  case "$state" in
    inactive)
      # The values are checked above (addresses, token): nothing here needs JSON escaping.
      local body
      body="$(printf '{"ListenAddr":"%s","AdvertiseAddr":"%s","DataPathAddr":"%s","RemoteAddrs":["%s"],"JoinToken":"%s"}' \
        "$(with_port "$listen" 2377)" "$advertise" "$data_path" "$leader_ep" "$token")"
      # timeout bounds a join against an unreachable leader; the daemon keeps trying in the background.
      engine_join "$body" \
        || die "swarm join via $leader_ep failed (engine's message above); check that $leader_ep/tcp is reachable (firewall), the token matches ROLE=$role and is current"
      wait_active 60 \
        || die "join via $leader_ep did not reach state 'active' within 60s (state: $(swarm_state 2>/dev/null || echo unknown)); check connectivity on 2377/tcp, 7946/tcp+udp, 4789/udp"
      say "changed: joined swarm as $role via $leader_ep"
      ;;
    pending)
      # An earlier join may still be completing: wait (bounded) rather than joining twice.
      wait_active 60 \
        || die "swarm join is stuck in state 'pending'; run 'docker swarm leave --force' on this host and re-run"
      check_membership "$expected" "$leader_ep"
      say "changed: pending swarm join completed"
      ;;
    active)
      check_membership "$expected" "$leader_ep"
      say "ok: member of swarm $expected"
      ;;
    locked)
      die "this node's swarm state is locked (autolock); run 'docker swarm unlock' with the unlock key, then re-run"
      ;;
    *)
      die "unexpected swarm state '$state'; inspect 'docker info' (maybe 'docker swarm leave --force' and re-run)"
      ;;
  esac

  local is_manager
  is_manager="$(docker info --format '{{.Swarm.ControlAvailable}}')"
  if [ "$role" = manager ] && [ "$is_manager" != true ]; then
    say "ok: node is currently a worker; node-config.sh on a manager reconciles the role to manager"
  elif [ "$role" = worker ] && [ "$is_manager" = true ]; then
    say "ok: node is currently a manager; node-config.sh on a manager reconciles the role to worker"
  fi

  claim_membership "$owner"

  local node_id
  node_id="$(docker info --format '{{.Swarm.NodeID}}')"
  [ -n "$node_id" ] || die "could not read this node's swarm NodeID; inspect 'docker info'"
  [[ "$node_id" =~ ^[A-Za-z0-9-]+$ ]] || die "unexpected characters in NodeID from docker; refusing to emit JSON"
  printf '{"nodeId":"%s"}\n' "$node_id"
}

main "$@"
