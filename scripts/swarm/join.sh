#!/usr/bin/env bash
# join.sh — join this host to the swarm (or confirm it already belongs to the right one).
# Usage: { printf "MEDIANEST_JOIN_TOKEN='%s'\n" "$TOKEN"; cat join.sh; } |
#          bash -s -- --owner NAME --role manager|worker --leader-addr ADDR --advertise-addr ADDR
#                         --listen-addr ADDR [--data-path-addr ADDR] --cluster-id ID
#   MEDIANEST_JOIN_TOKEN SWMTKN-1-... join token, assigned on stdin ahead of the script: never an
#                        argument (sudo logs those, ps shows them), never printed; it reaches the
#                        engine in the body of POST /swarm/join, not in a docker CLI argument
#   --owner              the resource that manages this host's membership; recorded in
#                        /var/lib/medianest/owners/swarm-member so that only it makes the host leave
#   --role               manager|worker (must match the token's role)
#   --leader-addr        an existing manager's address (":2377" is appended)
#   --advertise-addr     address other nodes use to reach this node (IP or interface, optional :port)
#   --listen-addr        address to bind the swarm API on (":2377" is appended)
#   --data-path-addr     address for VXLAN data traffic; without it, the advertise address
#   --cluster-id         cluster ID reported by init.sh
# Output: "ok:"/"changed:" lines on STDERR; stdout is exactly one JSON line: {"nodeId":"..."}
set -euo pipefail

# shellcheck source-path=SCRIPTDIR source=../lib/host-lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/../lib/host-lib.sh"

usage() { printf 'usage: join.sh --owner NAME --role manager|worker --leader-addr ADDR --advertise-addr ADDR --listen-addr ADDR [--data-path-addr ADDR] --cluster-id ID\n  (MEDIANEST_JOIN_TOKEN assigned on stdin)\n' >&2; exit 2; }

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
  parse_flags "owner role leader-addr advertise-addr listen-addr data-path-addr cluster-id" "$@"
  require_flags owner role leader-addr advertise-addr listen-addr cluster-id
  check_name owner
  check_choice role manager worker
  check_address leader-addr
  check_address advertise-addr port
  check_address listen-addr
  if [ -n "${OPT[data-path-addr]:-}" ]; then check_address data-path-addr; fi
  [[ "${OPT[cluster-id]}" =~ ^[A-Za-z0-9]+$ ]] || bad_arg "--cluster-id '${OPT[cluster-id]}' is not a swarm cluster ID"
  local owner="${OPT[owner]}" role="${OPT[role]}" leader="${OPT[leader-addr]}" advertise="${OPT[advertise-addr]}"
  local listen="${OPT[listen-addr]}" data_path="${OPT[data-path-addr]:-}" expected="${OPT[cluster-id]}"
  local token="${MEDIANEST_JOIN_TOKEN:-}"
  # Never echo the token, not even in errors.
  [[ "$token" =~ ^SWMTKN-[0-9]+-[A-Za-z0-9-]+$ ]] \
    || die "MEDIANEST_JOIN_TOKEN (assigned on stdin ahead of the script) is not a swarm join token (expected SWMTKN-1-...)"
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
        || die "swarm join via $leader_ep failed (engine's message above); check that $leader_ep/tcp is reachable (firewall), the token matches --role $role and is current"
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
