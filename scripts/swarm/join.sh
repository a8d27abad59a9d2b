#!/usr/bin/env bash
# join.sh — join this host to the swarm (or confirm it already belongs to the right one).
# Usage: bash -s -- ROLE TOKEN LEADER_ADDR ADVERTISE_ADDR LISTEN_ADDR DATA_PATH_ADDR EXPECTED_CLUSTER_ID < join.sh
#   ROLE                 manager|worker (must match the token's role)
#   TOKEN                SWMTKN-1-... join token (never printed)
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
  printf 'usage: join.sh ROLE TOKEN LEADER_ADDR ADVERTISE_ADDR LISTEN_ADDR DATA_PATH_ADDR EXPECTED_CLUSTER_ID\n  ROLE is manager|worker; DATA_PATH_ADDR may be ""\n' >&2
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
  local role="$1" token="$2" leader="$3" advertise="$4" listen="$5" data_path="$6" expected="$7"
  [[ "$role" =~ ^(manager|worker)$ ]] || die "ROLE must be 'manager' or 'worker', got '$role'"
  # Never echo the token, not even in errors.
  [[ "$token" =~ ^SWMTKN-[0-9]+-[A-Za-z0-9-]+$ ]] || die "TOKEN is not a swarm join token (expected SWMTKN-1-...); pass the token from init.sh"
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
      local -a args=(swarm join --token "$token" --advertise-addr "$advertise" --listen-addr "$(with_port "$listen" 2377)")
      if [ -n "$data_path" ]; then args+=(--data-path-addr "$data_path"); fi
      args+=("$leader_ep")
      # timeout bounds a join against an unreachable leader; the daemon keeps trying in the background.
      timeout 120 docker "${args[@]}" >&2 \
        || die "'docker swarm join' via $leader_ep failed; check that $leader_ep/tcp is reachable (firewall), the token matches ROLE=$role and is current"
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

  local node_id
  node_id="$(docker info --format '{{.Swarm.NodeID}}')"
  [ -n "$node_id" ] || die "could not read this node's swarm NodeID; inspect 'docker info'"
  [[ "$node_id" =~ ^[A-Za-z0-9-]+$ ]] || die "unexpected characters in NodeID from docker; refusing to emit JSON"
  printf '{"nodeId":"%s"}\n' "$node_id"
}

main "$@"
