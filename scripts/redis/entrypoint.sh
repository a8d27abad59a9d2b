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

readonly SCRIPT=redis-entrypoint

declare -A OPT=()
RUN_USER=""
RUN_UID=""
RUN_GID=""
PASSWORD=""
OWN_IP=""
MASTER_IP=""
MASTER_PORT=""

die() {
  printf 'error: %s\n' "$*" >&2
  exit 1
}

log() { printf '%s: %s\n' "$SCRIPT" "$*"; }

usage() {
  cat >&2 <<'EOF'
usage: entrypoint.sh --role-hint master|replica --port N --password-file FILE --data DIR
           --maxmemory SIZE --maxmemory-policy POLICY --announce-cidr CIDR
           --master-host HOST --master-port N --sentinel-host HOST|"" --sentinel-port N
           --master-name NAME [--run-as USER]
EOF
  exit 2
}

# Argument errors exit 2 before anything has been changed.
bad_arg() {
  printf 'error: %s\n' "$*" >&2
  usage
}

# parse_flags "allowed names" ARGS...: fills OPT[name]=value from --name value pairs.
parse_flags() {
  local allowed=" $1 " name
  shift
  while [ "$#" -gt 0 ]; do
    case "$1" in
      --?*) name="${1#--}" ;;
      *) bad_arg "unexpected argument '$1'; every value follows its --flag" ;;
    esac
    [[ "$allowed" == *" $name "* ]] || bad_arg "unknown flag --$name"
    [ "$#" -ge 2 ] || bad_arg "--$name needs a value"
    [ -z "${OPT[$name]+set}" ] || bad_arg "--$name is given twice"
    OPT[$name]="$2"
    shift 2
  done
}

require_flags() {
  local name
  for name in "$@"; do
    [ -n "${OPT[$name]+set}" ] || bad_arg "--$name is required"
  done
}

check_port() {
  if ! [[ "${OPT[$1]}" =~ ^[0-9]{1,5}$ ]] || ((10#${OPT[$1]} < 1 || 10#${OPT[$1]} > 65535)); then
    bad_arg "--$1 '${OPT[$1]}' is not a TCP port (1-65535)"
  fi
  OPT[$1]="$((10#${OPT[$1]}))"
}

# The path is written into redis.conf inside double quotes: keep it to a safe alphabet.
check_path() {
  [[ "${OPT[$1]}" =~ ^/[A-Za-z0-9._/@+-]*$ && "/${OPT[$1]}/" != */../* ]] \
    || bad_arg "--$1 '${OPT[$1]}' must be an absolute path of letters, digits and ._/@+-"
}

check_host() {
  [[ "${OPT[$1]}" =~ ^[A-Za-z0-9_]([A-Za-z0-9_.-]{0,251}[A-Za-z0-9_])?$ ]] \
    || bad_arg "--$1 '${OPT[$1]}' is not a host name or IPv4 address"
}

# is_ipv4 ADDR: dotted quad, each octet 0-255.
is_ipv4() {
  local re='^([0-9]{1,3})\.([0-9]{1,3})\.([0-9]{1,3})\.([0-9]{1,3})$' i
  [[ "$1" =~ $re ]] || return 1
  for i in 1 2 3 4; do
    ((10#${BASH_REMATCH[$i]} <= 255)) || return 1
  done
}

ip_to_int() {
  local a b c d
  IFS=. read -r a b c d <<<"$1"
  printf '%s' "$(((10#$a << 24) | (10#$b << 16) | (10#$c << 8) | 10#$d))"
}

check_cidr4() {
  local value="${OPT[$1]}" bits
  bits="${value#*/}"
  if [[ "$value" != */* ]] || ! is_ipv4 "${value%/*}" || ! [[ "$bits" =~ ^[0-9]{1,2}$ ]] || ((10#$bits > 32)); then
    bad_arg "--$1 '$value' is not an IPv4 CIDR such as 10.0.9.0/24"
  fi
}

# in_cidr IP CIDR: CIDR match in shell arithmetic (no ipcalc in the images).
in_cidr() {
  local ip net bits mask
  ip="$(ip_to_int "$1")"
  net="$(ip_to_int "${2%/*}")"
  bits="$((10#${2#*/}))"
  mask=$((bits == 0 ? 0 : (0xFFFFFFFF << (32 - bits)) & 0xFFFFFFFF))
  (((ip & mask) == (net & mask)))
}

# read_secret FLAG VAR: the password in the file named by --FLAG, trailing newlines removed.
read_secret() {
  local flag="$1" file="${OPT[$1]}" value
  [[ "$file" == /* ]] || bad_arg "--$flag '$file' must be an absolute path (a Docker secret under /run/secrets)"
  [ -f "$file" ] || bad_arg "--$flag '$file' is not a file; mount the Docker secret there"
  [ -r "$file" ] || bad_arg "--$flag '$file' is not readable; run the container as root"
  value="$(<"$file")"
  [ -n "$value" ] || bad_arg "--$flag '$file' is empty; store the password in the secret"
  [[ "$value" != *$'\n'* && "$value" != *$'\r'* ]] \
    || bad_arg "--$flag '$file' holds more than one line; store the password alone on one line"
  printf -v "$2" '%s' "$value"
}

resolve_run_as() {
  local user="${OPT[run-as]:-redis}"
  [[ "$user" =~ ^[a-z_][a-z0-9_-]{0,31}$ ]] || bad_arg "--run-as '$user' is not a user name"
  RUN_UID="$(id -u -- "$user" 2>/dev/null)" \
    || bad_arg "--run-as user '$user' does not exist in this image; pass an existing user"
  RUN_GID="$(id -g -- "$user")"
  RUN_USER="$user"
  if [ "$(id -u)" != 0 ] && [ "$(id -u)" != "$RUN_UID" ]; then
    die "running as uid $(id -u); run the container as root (the script drops to '$user' itself) or as '$user'"
  fi
}

# find_binary NAME: PATH first, then where the official image and Debian keep it.
find_binary() {
  local candidate
  for candidate in "$(command -v "$1" 2>/dev/null || true)" "/usr/local/bin/$1" "/usr/bin/$1"; do
    if [ -n "$candidate" ] && [ -x "$candidate" ]; then
      printf '%s' "$candidate"
      return 0
    fi
  done
  return 1
}

# setpriv keeps the process tree flat (redis-server becomes PID 1); runuser is the fallback.
exec_as_user() {
  if [ "$(id -u)" = "$RUN_UID" ]; then
    exec "$@"
  elif command -v setpriv >/dev/null 2>&1; then
    exec setpriv --reuid="$RUN_UID" --regid="$RUN_GID" --init-groups -- "$@"
  else
    exec runuser -u "$RUN_USER" -- "$@"
  fi
}

# Every local IPv4 address, one per line. The official redis image has no `ip`, and
# `hostname -I` may be missing too, so the kernel's FIB is the last resort.
local_ipv4s() {
  local line address prev=""
  if command -v ip >/dev/null 2>&1; then
    while read -r _ _ _ address _; do
      printf '%s\n' "${address%/*}"
    done < <(ip -4 -o addr show 2>/dev/null || true)
  elif command -v hostname >/dev/null 2>&1 && hostname -I >/dev/null 2>&1; then
    for address in $(hostname -I); do
      printf '%s\n' "$address"
    done
  elif [ -r /proc/net/fib_trie ]; then
    while read -r line; do
      case "$line" in
        "|-- "*) prev="${line#|-- }" ;;
        "/32 host LOCAL"*) printf '%s\n' "$prev" ;;
      esac
    done </proc/net/fib_trie
  fi
}

# Our address on the data network; the overlay interface can lag container start briefly.
find_own_ip() {
  local cidr="${OPT[announce-cidr]}" tries address deadline=$((SECONDS + 10))
  for ((tries = 0; tries < 10 && SECONDS <= deadline; tries++)); do
    while read -r address; do
      if is_ipv4 "$address" && in_cidr "$address" "$cidr"; then
        OWN_IP="$address"
        return 0
      fi
    done < <(local_ipv4s)
    sleep 1
  done
  die "this container has no IPv4 address in --announce-cidr $cidr; attach it to that network or fix the CIDR"
}

# resolve_ipv4 HOST: its distinct IPv4 addresses, in resolver order. A literal address is
# returned as is: getaddrinfo's AI_ADDRCONFIG finds nothing where only loopback is up.
resolve_ipv4() {
  local address seen=" "
  if is_ipv4 "$1"; then
    printf '%s\n' "$1"
    return 0
  fi
  while read -r address _; do
    [[ "$seen" == *" $address "* ]] && continue
    seen+="$address "
    printf '%s\n' "$address"
  done < <(getent ahostsv4 "$1" 2>/dev/null || true)
}

# Ask each sentinel for the current master; sets MASTER_IP/MASTER_PORT on an answer.
ask_sentinels() {
  local host="${OPT[sentinel-host]}" port="${OPT[sentinel-port]}" name="${OPT[master-name]}"
  local cli tries address reply ip master_port deadline=$((SECONDS + 10))
  cli="$(find_binary redis-cli)" || die "redis-cli not found; use an image with redis-tools"
  for ((tries = 0; tries < 5 && SECONDS <= deadline; tries++)); do
    while read -r address; do
      reply="$(timeout 3 "$cli" -h "$address" -p "$port" --raw SENTINEL get-master-addr-by-name "$name" 2>/dev/null || true)"
      { read -r ip && read -r master_port; } <<<"$reply" || continue
      if is_ipv4 "$ip" && [[ "$master_port" =~ ^[0-9]{1,5}$ ]]; then
        log "sentinel $address:$port names $ip:$master_port as master of $name"
        MASTER_IP="$ip"
        MASTER_PORT="$master_port"
        return 0
      fi
    done < <(resolve_ipv4 "$host")
    sleep 2
  done
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

# redis.conf string: double quotes with \ and " escaped (sdssplitargs rules).
conf_quote() {
  local value="$1"
  value="${value//\\/\\\\}"
  value="${value//\"/\\\"}"
  printf '"%s"' "$value"
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

# Until the final exec this bash is PID 1, which ignores SIGTERM without a handler.
on_signal() {
  die "stopped by a signal during start-up"
}

main() {
  exec </dev/null
  trap on_signal TERM INT
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
  resolve_run_as
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
  if [ -e "$data" ] && [ ! -d "$data" ]; then die "--data '$data' exists but is not a directory"; fi
  mkdir -p -- "$data"
  if [ "$(stat -c %u -- "$data")" != "$RUN_UID" ]; then
    log "handing $data to $RUN_USER"
    chown -R "$RUN_UID:$RUN_GID" "$data"
  fi
  chmod 0700 -- "$data"
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
