#!/usr/bin/env bash
# redis/sentinel-entrypoint.sh: container command of a Redis Sentinel.
#
# Usage (as root inside the container; the script drops to --run-as itself):
#   sentinel-entrypoint.sh --port N --password-file FILE --master-name NAME
#       --master-host HOST --redis-port N --quorum N --announce-cidr CIDR
#       --peer-host HOST --data DIR [--run-as USER]
#
# The master to monitor is what the other sentinels say (every IPv4 address of
# --peer-host except our own, asked for up to ~10 s), so a restarted sentinel follows a
# failover that happened while it was down. Without an answer it is --master-host
# (waited for up to 120 s) on --redis-port.
# DATA/sentinel.conf is regenerated on every start (Sentinel rewrites it while running,
# so it lives on the writable volume, owned by --run-as, mode 0600 as it holds the Redis
# password). Only `sentinel myid` is carried over, so peers recognise this sentinel after
# a restart instead of counting a stale twin. Stale known-replica/known-sentinel lines are
# dropped with the rest; Sentinel rediscovers them within seconds.
# Then redis-sentinel (or redis-server --sentinel) is exec'd as --run-as (default redis).
# Exit status: 2 for bad arguments (nothing changed), 1 for any other failure.
set -euo pipefail

readonly SCRIPT=sentinel-entrypoint

declare -A OPT=()
RUN_USER=""
RUN_UID=""
RUN_GID=""
PASSWORD=""
OWN_IP=""
MASTER_IP=""

die() {
  printf 'error: %s\n' "$*" >&2
  exit 1
}

log() { printf '%s: %s\n' "$SCRIPT" "$*"; }

usage() {
  cat >&2 <<'EOF'
usage: sentinel-entrypoint.sh --port N --password-file FILE --master-name NAME
           --master-host HOST --redis-port N --quorum N --announce-cidr CIDR
           --peer-host HOST --data DIR [--run-as USER]
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

# The path is written into sentinel.conf inside double quotes: keep it to a safe alphabet.
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

# setpriv keeps the process tree flat (the sentinel becomes PID 1); runuser is the fallback.
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

# The current master as the other sentinels know it; sets MASTER_IP (and may correct the
# port: after a failover it is still --redis-port in this deployment, but trust the peer).
ask_peers() {
  local cli tries address reply ip port deadline=$((SECONDS + 10)) asked
  cli="$(find_binary redis-cli)" || die "redis-cli not found; use an image with redis-tools"
  for ((tries = 0; tries < 5 && SECONDS <= deadline; tries++)); do
    asked=0
    while read -r address; do
      [ "$address" != "$OWN_IP" ] || continue
      asked=1
      reply="$(timeout 3 "$cli" -h "$address" -p "${OPT[port]}" --raw SENTINEL get-master-addr-by-name "${OPT[master-name]}" 2>/dev/null || true)"
      { read -r ip && read -r port; } <<<"$reply" || continue
      if is_ipv4 "$ip" && [[ "$port" =~ ^[0-9]{1,5}$ ]]; then
        log "peer sentinel $address names $ip:$port as master of ${OPT[master-name]}"
        MASTER_IP="$ip"
        OPT[redis-port]="$port"
        return 0
      fi
    done < <(resolve_ipv4 "${OPT[peer-host]}")
    # Only ourselves (or nobody) behind the name: no peer will answer, stop asking.
    [ "$asked" = 1 ] || return 1
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
      return 0
    fi
    sleep 2
  done
  die "--master-host '$host' did not resolve within 120 s; check that the Redis master service runs on the data network"
}

# sentinel.conf string: double quotes with \ and " escaped (sdssplitargs rules).
conf_quote() {
  local value="$1"
  value="${value//\\/\\\\}"
  value="${value//\"/\\\"}"
  printf '"%s"' "$value"
}

write_config() {
  local conf="$1" name="${OPT[master-name]}" myid="" line tmp
  if [ -f "$conf" ]; then
    while read -r line; do
      if [[ "$line" =~ ^sentinel\ myid\ ([0-9a-f]{40})$ ]]; then myid="${BASH_REMATCH[1]}"; fi
    done <"$conf"
  fi
  tmp="$(mktemp "${conf%/*}/.sentinel.conf.XXXXXX")"
  {
    printf '%s\n' "# Generated by MediaNest redis/sentinel-entrypoint.sh on every start; Sentinel rewrites it while running."
    printf 'port %s\nbind 0.0.0.0\nprotected-mode no\ndir "%s"\n' "${OPT[port]}" "${OPT[data]}"
    if [ -n "$myid" ]; then printf 'sentinel myid %s\n' "$myid"; fi
    printf 'sentinel resolve-hostnames no\nsentinel announce-hostnames no\n'
    # Peers and clients must reach us on the data network address, not a VIP.
    printf 'sentinel announce-ip %s\nsentinel announce-port %s\n' "$OWN_IP" "${OPT[port]}"
    printf 'sentinel monitor %s %s %s %s\n' "$name" "$MASTER_IP" "${OPT[redis-port]}" "${OPT[quorum]}"
    printf 'sentinel auth-pass %s %s\n' "$name" "$(conf_quote "$PASSWORD")"
    printf 'sentinel down-after-milliseconds %s 5000\n' "$name"
    printf 'sentinel failover-timeout %s 60000\n' "$name"
    printf 'sentinel parallel-syncs %s 1\n' "$name"
  } >"$tmp"
  chmod 0600 -- "$tmp"
  chown "$RUN_UID:$RUN_GID" -- "$tmp"
  mv -f -- "$tmp" "$conf"
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
  parse_flags "port password-file master-name master-host redis-port quorum announce-cidr peer-host data run-as" "$@"
  require_flags port password-file master-name master-host redis-port quorum announce-cidr peer-host data
  check_port port
  [[ "${OPT[master-name]}" =~ ^[A-Za-z0-9._-]{1,64}$ ]] || bad_arg "--master-name '${OPT[master-name]}' must be letters, digits and ._-"
  check_host master-host
  check_port redis-port
  if ! [[ "${OPT[quorum]}" =~ ^[0-9]{1,2}$ ]] || ((10#${OPT[quorum]} < 1)); then
    bad_arg "--quorum '${OPT[quorum]}' must be a number from 1 to 99"
  fi
  OPT[quorum]="$((10#${OPT[quorum]}))"
  check_cidr4 announce-cidr
  check_host peer-host
  check_path data
  resolve_run_as
  read_secret password-file PASSWORD
  local sentinel=() binary
  if binary="$(find_binary redis-sentinel)"; then
    sentinel=("$binary")
  elif binary="$(find_binary redis-server)"; then
    sentinel=("$binary")
  else
    die "neither redis-sentinel nor redis-server found; use an image with redis-sentinel"
  fi

  cd /
  find_own_ip
  if ! ask_peers; then
    log "no peer sentinel answered; monitoring --master-host ${OPT[master-host]}"
    resolve_master
  fi

  local data="${OPT[data]}"
  if [ -e "$data" ] && [ ! -d "$data" ]; then die "--data '$data' exists but is not a directory"; fi
  mkdir -p -- "$data"
  # Sentinel rewrites sentinel.conf via a temp file in the same directory.
  if [ "$(stat -c %u -- "$data")" != "$RUN_UID" ]; then
    log "handing $data to $RUN_USER"
    chown -R "$RUN_UID:$RUN_GID" "$data"
  fi
  chmod 0700 -- "$data"
  write_config "$data/sentinel.conf"
  log "monitoring ${OPT[master-name]} at $MASTER_IP:${OPT[redis-port]} (quorum ${OPT[quorum]}), announcing $OWN_IP:${OPT[port]}"
  exec_as_user "${sentinel[@]}" "$data/sentinel.conf" --sentinel
}

main "$@"
