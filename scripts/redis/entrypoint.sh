#!/usr/bin/env bash
# redis/entrypoint.sh: container command of a Redis data node (master or replica).
#
# Usage (as root inside the container; the script drops to --run-as itself):
#   entrypoint.sh --role-hint master|replica --port N --password-file FILE --data DIR
#       --maxmemory SIZE --maxmemory-policy POLICY --announce-cidr CIDR
#       --master-host HOST --master-port N --sentinel-host HOST|"" --sentinel-port N
#       --master-name NAME [--run-as USER]
#
# The role is decided at every start:
#   1. With --sentinel-host, the sentinels (every IPv4 address the name resolves to) are
#      asked for the current master of --master-name for up to ~10 s. A master that is
#      this container (its address in --announce-cidr and --port) means master; any other
#      means replica of it. Sentinels outrank --role-hint, so a restarted old master
#      rejoins as a replica after a failover.
#   2. Without an answer: --role-hint master starts a master; --role-hint replica waits
#      up to 120 s for --master-host to resolve and replicates it on --master-port.
# The configuration (it holds the password) is written to a 0600 file in a private
# runtime directory under ${TMPDIR:-/tmp}, owned by --run-as, and never printed. Then
# redis-server is exec'd as --run-as (default redis), so it gets the container's signals.
# Exit status: 2 for bad arguments (nothing changed), 1 for any other failure.
set -euo pipefail

# The shared helpers: beside this script in the container (/run/medianest), else in the
# repository's scripts/lib.
LIB_DIR="$(dirname "$0")"
[ -f "$LIB_DIR/container-lib.sh" ] || LIB_DIR="$LIB_DIR/../lib"
[ -f "$LIB_DIR/container-lib.sh" ] || { printf 'error: %s\n' "container-lib.sh is neither beside $0 nor in $LIB_DIR; deliver it with the script" >&2; exit 1; }
# shellcheck source-path=SCRIPTDIR source=../lib/container-lib.sh
. "$LIB_DIR/container-lib.sh"

readonly SCRIPT=redis-entrypoint

declare -A OPT=()
RUN_USER=""
RUN_UID=""
RUN_GID=""
PASSWORD=""
OWN_IP=""
MASTER_IP=""
MASTER_PORT=""

usage() {
  cat >&2 <<'EOF'
usage: entrypoint.sh --role-hint master|replica --port N --password-file FILE --data DIR
           --maxmemory SIZE --maxmemory-policy POLICY --announce-cidr CIDR
           --master-host HOST --master-port N --sentinel-host HOST|"" --sentinel-port N
           --master-name NAME [--run-as USER]
EOF
  exit 2
}

# Does the Redis at $2:$3 answer PING (with our password)? The password goes through the
# environment of redis-cli only, never its arguments.
master_answers() {
  REDISCLI_AUTH="$PASSWORD" timeout 3 "$1" -h "$2" -p "$3" PING 2>/dev/null | grep -qx PONG
}

# Ask each sentinel for the current master; sets MASTER_IP/MASTER_PORT on an answer.
# A named master that does not answer may be the one that just died, named again while
# the failover is still running: following it would leave this task replicating a dead
# address that the sentinels never learn about. So keep asking (bounded by the failover
# timeout) until the named master answers, or names this very instance.
ask_sentinels() {
  local host="${OPT[sentinel-host]}" port="${OPT[sentinel-port]}" name="${OPT[master-name]}"
  local cli address reply ip master_port named_ip="" named_port=""
  local quiet_deadline=$((SECONDS + 10)) deadline=$((SECONDS + 90)) tries
  cli="$(find_binary redis-cli)" || die "redis-cli not found; use an image with redis-tools"
  for ((tries = 0; tries < 60 && SECONDS <= deadline; tries++)); do
    while read -r address; do
      reply="$(timeout 3 "$cli" -h "$address" -p "$port" --raw SENTINEL get-master-addr-by-name "$name" 2>/dev/null || true)"
      { read -r ip && read -r master_port; } <<<"$reply" || continue
      if ! is_ipv4 "$ip" || ! [[ "$master_port" =~ ^[0-9]{1,5}$ ]]; then continue; fi
      named_ip="$ip"
      named_port="$master_port"
      if { [ "$ip" = "$OWN_IP" ] && [ "$master_port" = "${OPT[port]}" ]; } || master_answers "$cli" "$ip" "$master_port"; then
        log "sentinel $address:$port names $ip:$master_port as master of $name"
        MASTER_IP="$ip"
        MASTER_PORT="$master_port"
        return 0
      fi
      log "sentinel $address:$port names $ip:$master_port, which does not answer (failover in progress?); asking again"
    done < <(resolve_ipv4 "$host")
    # No sentinel at all (first deployment): decide by the role hint, as before.
    if [ -z "$named_ip" ] && [ "$SECONDS" -gt "$quiet_deadline" ]; then return 1; fi
    sleep 2
  done
  if [ -n "$named_ip" ]; then
    log "no named master answered within the failover timeout; following the last one named ($named_ip:$named_port)"
    MASTER_IP="$named_ip"
    MASTER_PORT="$named_port"
    return 0
  fi
  return 1
}

# Bounded wait for the master's name to appear in DNS (Swarm adds it once the task runs).
resolve_master() {
  local host="${OPT[master-host]}" tries address deadline=$((SECONDS + 120))
  for ((tries = 0; tries < 60 && SECONDS <= deadline; tries++)); do
    address="$(resolve_ipv4 "$host")"
    address="${address%%$'\n'*}"
    if [ -n "$address" ]; then
      MASTER_IP="$address"
      MASTER_PORT="${OPT[master-port]}"
      return 0
    fi
    sleep 2
  done
  die "--master-host '$host' did not resolve within 120 s; check that the master service runs on the data network"
}

write_config() {
  local conf="$1" role="$2" quoted
  quoted="$(conf_quote "$PASSWORD")"
  {
    printf '%s\n' "# Generated by MediaNest redis/entrypoint.sh on every start. Holds the password: keep it 0600."
    printf 'port %s\nbind 0.0.0.0\nprotected-mode no\n' "${OPT[port]}"
    printf 'requirepass %s\nmasterauth %s\n' "$quoted" "$quoted"
    printf 'appendonly yes\nappendfsync everysec\n'
    printf 'dir "%s"\n' "${OPT[data]}"
    printf 'maxmemory %s\nmaxmemory-policy %s\n' "${OPT[maxmemory]}" "${OPT[maxmemory-policy]}"
    # Replicas report this address to the master and sentinels, not a NAT'd or VIP one.
    printf 'replica-announce-ip %s\nreplica-read-only yes\n' "$OWN_IP"
    # Swarm's IPVS drops TCP connections idle for 900 s: probe well before that.
    printf 'tcp-keepalive 300\n'
    if [ "$role" = replica ]; then
      printf 'replicaof %s %s\n' "$MASTER_IP" "$MASTER_PORT"
    fi
  } >"$conf"
}

main() {
  exec </dev/null
  trap on_startup_signal TERM INT
  umask 077
  [ "$#" -ge 1 ] || usage
  case "$1" in -h | --help) usage ;; esac
  parse_flags "role-hint port password-file data maxmemory maxmemory-policy announce-cidr master-host master-port sentinel-host sentinel-port master-name run-as" "$@"
  require_flags role-hint port password-file data maxmemory maxmemory-policy announce-cidr \
    master-host master-port sentinel-host sentinel-port master-name
  case "${OPT[role-hint]}" in
    master | replica) ;;
    *) bad_arg "--role-hint '${OPT[role-hint]}' must be master or replica" ;;
  esac
  check_port port
  check_path data
  [[ "${OPT[maxmemory]}" =~ ^[0-9]+([kKmMgG][bB]?|[bB])?$ ]] \
    || bad_arg "--maxmemory '${OPT[maxmemory]}' must be a size such as 400mb"
  case "${OPT[maxmemory-policy]}" in
    noeviction | allkeys-lru | allkeys-lfu | allkeys-random | volatile-lru | volatile-lfu | volatile-random | volatile-ttl) ;;
    *) bad_arg "--maxmemory-policy '${OPT[maxmemory-policy]}' is not a Redis eviction policy (e.g. noeviction, allkeys-lru)" ;;
  esac
  check_cidr4 announce-cidr
  check_host master-host
  check_port master-port
  if [ -n "${OPT[sentinel-host]}" ]; then check_host sentinel-host; fi
  check_port sentinel-port
  [[ "${OPT[master-name]}" =~ ^[A-Za-z0-9._-]{1,64}$ ]] || bad_arg "--master-name '${OPT[master-name]}' must be letters, digits and ._-"
  resolve_run_as redis
  read_secret password-file PASSWORD
  local server
  server="$(find_binary redis-server)" || die "redis-server not found; use an image with redis-server"

  cd /
  find_own_ip
  local role=""
  if [ -n "${OPT[sentinel-host]}" ] && ask_sentinels; then
    if [ "$MASTER_IP" = "$OWN_IP" ] && [ "$MASTER_PORT" = "${OPT[port]}" ]; then role=master; else role=replica; fi
  elif [ "${OPT[role-hint]}" = master ]; then
    role=master
    if [ -n "${OPT[sentinel-host]}" ]; then log "no sentinel answered; starting as master (--role-hint)"; fi
  else
    role=replica
    log "waiting for --master-host ${OPT[master-host]} to resolve"
    resolve_master
    if { [ "$MASTER_IP" = "$OWN_IP" ] || [[ "$MASTER_IP" == 127.* ]]; } && [ "$MASTER_PORT" = "${OPT[port]}" ]; then
      die "--master-host ${OPT[master-host]}:${OPT[master-port]} is this very instance; point it at the master service"
    fi
  fi

  local data="${OPT[data]}" runtime conf
  claim_data_dir "$data"
  # Redis rewrites its config on REPLICAOF from sentinel (temp file + rename in the same
  # directory), so the private directory belongs to the server user.
  runtime="$(mktemp -d "${TMPDIR:-/tmp}/medianest-redis.XXXXXX")"
  conf="$runtime/redis.conf"
  write_config "$conf" "$role"
  chmod 0600 -- "$conf"
  chown "$RUN_UID:$RUN_GID" -- "$runtime" "$conf"
  chmod 0700 -- "$runtime"
  if [ "$role" = master ]; then
    log "starting as master on $OWN_IP:${OPT[port]}"
  else
    log "starting as replica of $MASTER_IP:$MASTER_PORT on $OWN_IP:${OPT[port]}"
  fi
  exec_as_user "$server" "$conf"
}

main "$@"
