#!/usr/bin/env bash
# lib/container-lib.sh: helpers shared by the data-tier container scripts
# (postgres/entrypoint.sh, redis/entrypoint.sh, redis/sentinel-entrypoint.sh,
# backup/pg-dump.sh, backup/upload.sh, backup/restore.sh). It is sourced, never run:
# loading it defines functions and the variables below. Each script includes it by the
# source line below its header; the program delivers every script with this file (and
# lib/flags.sh) bundled in its place (scripts/loader.ts), so a Swarm config is one
# self-contained file; in the repository the source line reads the files beside it.
#
# The sourcing script provides:
#   SCRIPT            readonly; the prefix of log lines
#   usage()           prints the script's usage to stderr and exits 2
#   cleanup()         used by on_loop_signal and run_rounds (backup scripts)
# This file declares, for its functions and the script:
#   OPT               parse_flags fills it, the checks read it
#   RUN_USER RUN_UID RUN_GID   set by resolve_run_as (scripts that drop privileges)
#   OWN_IP            set by find_own_ip (Redis scripts)
#   PASSWORD          the Redis password, read by the master lookup (Redis scripts set it)
#   SENTINEL_PASSWORD the Sentinels' password, sent by the master lookup (Redis scripts set it)
#   MASTER_IP MASTER_PORT      set by the master lookup (Redis scripts)
#   CHILD             the running child of run_child (backup scripts)
#
# The argument convention (parse_flags, bad_arg, die) is lib/flags.sh, bundled into this
# file when it is delivered as a Swarm config.

# shellcheck source-path=SCRIPTDIR source=flags.sh
. "$(dirname "${BASH_SOURCE[0]}")/flags.sh"

declare -A OPT=()
RUN_USER="" RUN_UID="" RUN_GID="" OWN_IP="" PASSWORD="" SENTINEL_PASSWORD="" MASTER_IP="" MASTER_PORT="" CHILD=""

log() { printf '%s: %s\n' "$SCRIPT" "$*"; }

check_port() {
  if ! [[ "${OPT[$1]}" =~ ^[0-9]{1,5}$ ]] || ((10#${OPT[$1]} < 1 || 10#${OPT[$1]} > 65535)); then
    bad_arg "--$1 '${OPT[$1]}' is not a TCP port (1-65535)"
  fi
  OPT[$1]="$((10#${OPT[$1]}))"
}

check_count() {
  if ! [[ "${OPT[$1]}" =~ ^[0-9]{1,9}$ ]] || ((10#${OPT[$1]} < 1)); then
    bad_arg "--$1 '${OPT[$1]}' must be a whole number of at least 1"
  fi
  OPT[$1]="$((10#${OPT[$1]}))"
}

# Paths end up inside quoted configuration values (postgresql.conf, redis.conf,
# sentinel.conf): keep them to a safe alphabet.
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

# read_secret_file FLAG VAR: the one-line secret (password, key) in the file named by
# --FLAG, trailing newlines removed.
read_secret_file() {
  local flag="$1" file="${OPT[$1]}" value
  [ -f "$file" ] || bad_arg "--$flag '$file' is not a file; mount the Docker secret there"
  [ -r "$file" ] || bad_arg "--$flag '$file' is not readable; run the container as root"
  value="$(<"$file")"
  [ -n "$value" ] || bad_arg "--$flag '$file' is empty; store the value in the secret"
  [[ "$value" != *$'\n'* && "$value" != *$'\r'* ]] \
    || bad_arg "--$flag '$file' holds more than one line; store the value alone on one line"
  printf -v "$2" '%s' "$value"
}

# read_secret FLAG VAR: read_secret_file for a Docker secret, whose path must be absolute.
read_secret() {
  [[ "${OPT[$1]}" == /* ]] || bad_arg "--$1 '${OPT[$1]}' must be an absolute path (a Docker secret under /run/secrets)"
  read_secret_file "$1" "$2"
}

# .pgpass fields escape ':' and '\' with a backslash.
pgpass_line() {
  local user="$1" password="$2"
  password="${password//\\/\\\\}"
  password="${password//:/\\:}"
  printf '*:*:*:%s:%s\n' "$user" "$password"
}

# redis.conf and sentinel.conf string: double quotes with \ and " escaped (sdssplitargs rules).
conf_quote() {
  local value="$1"
  value="${value//\\/\\\\}"
  value="${value//\"/\\\"}"
  printf '"%s"' "$value"
}

# resolve_run_as DEFAULT_USER: RUN_USER/RUN_UID/RUN_GID of --run-as (default DEFAULT_USER).
resolve_run_as() {
  local user="${OPT[run-as]:-$1}"
  [[ "$user" =~ ^[a-z_][a-z0-9_-]{0,31}$ ]] || bad_arg "--run-as '$user' is not a user name"
  RUN_UID="$(id -u -- "$user" 2>/dev/null)" \
    || bad_arg "--run-as user '$user' does not exist in this image; pass an existing user"
  RUN_GID="$(id -g -- "$user")"
  RUN_USER="$user"
  if [ "$(id -u)" != 0 ] && [ "$(id -u)" != "$RUN_UID" ]; then
    die "running as uid $(id -u); run the container as root (the script drops to '$user' itself) or as '$user'"
  fi
}

# Replace this shell with a command run as the --run-as user, so the server becomes PID 1
# and gets the container's signals. setpriv keeps the process tree flat (no PAM session);
# runuser is the fallback for images without it.
exec_as_user() {
  if [ "$(id -u)" = "$RUN_UID" ]; then
    exec "$@"
  elif command -v setpriv >/dev/null 2>&1; then
    exec setpriv --reuid="$RUN_UID" --regid="$RUN_GID" --init-groups -- "$@"
  else
    exec runuser -u "$RUN_USER" -- "$@"
  fi
}

# claim_data_dir DIR (given as --data): a directory owned by the --run-as user, mode 0700.
claim_data_dir() {
  local dir="$1"
  if [ -e "$dir" ] && [ ! -d "$dir" ]; then die "--data '$dir' exists but is not a directory"; fi
  mkdir -p -- "$dir"
  if [ "$(stat -c %u -- "$dir")" != "$RUN_UID" ]; then
    log "handing $dir to $RUN_USER"
    chown -R "$RUN_UID:$RUN_GID" "$dir"
  fi
  chmod 0700 -- "$dir"
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

# find_pg_tool NAME: a binary of the image's PostgreSQL, wherever the image layout keeps it
# (official image: PATH and pg_config; Debian: the versioned directory). Fails silently:
# the caller names what is missing.
find_pg_tool() {
  local dir candidate
  if command -v pg_config >/dev/null 2>&1; then
    dir="$(pg_config --bindir 2>/dev/null || true)"
    if [ -n "$dir" ] && [ -x "$dir/$1" ]; then printf '%s' "$dir/$1"; return 0; fi
  fi
  if [ -x "/usr/lib/postgresql/15/bin/$1" ]; then printf '%s' "/usr/lib/postgresql/15/bin/$1"; return 0; fi
  candidate="$(command -v "$1" 2>/dev/null || true)"
  if [ -n "$candidate" ]; then printf '%s' "$candidate"; return 0; fi
  return 1
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

# Our address on the data network (--announce-cidr) into OWN_IP; the overlay interface can
# lag container start briefly.
find_own_ip() {
  local cidr="${OPT[announce-cidr]}" tries address deadline=$((SECONDS + 10))
  for ((tries = 0; tries < 10 && SECONDS <= deadline; tries++)); do
    while read -r address; do
      if is_ipv4 "$address" && in_cidr "$address" "$cidr"; then
        # shellcheck disable=SC2034 # OWN_IP is this function's result, read by the sourcing script.
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

# redis_role CLI IP PORT: the first line of ROLE (master, slave) of the Redis at IP:PORT
# (with PASSWORD), or nothing. The password goes through redis-cli's environment only,
# never its arguments.
redis_role() {
  # shellcheck disable=SC2153 # PASSWORD is the sourcing script's (read_secret sets it).
  REDISCLI_AUTH="$PASSWORD" timeout 3 "$1" --no-auth-warning -h "$2" -p "$3" --raw ROLE 2>/dev/null | head -1 || true
}

# master_answers CLI IP PORT: is the Redis at IP:PORT up and a master? A replica at a
# named master's address (an address reused by a new task) is not one.
master_answers() {
  [ "$(redis_role "$@")" = master ]
}

# sentinel_cli CLI IP PORT ARGS...: a command to the Sentinel at IP:PORT, authenticated with
# SENTINEL_PASSWORD (through the environment, never an argument).
sentinel_cli() {
  local cli="$1" ip="$2" port="$3"
  shift 3
  REDISCLI_AUTH="$SENTINEL_PASSWORD" timeout 3 "$cli" --no-auth-warning -h "$ip" -p "$port" --raw "$@" 2>/dev/null
}

# ask_for_master SENTINEL_HOST SENTINEL_PORT MASTER_NAME NOT_ASKED [SELF_IP SELF_PORT]: the
# current master of MASTER_NAME as the sentinels behind SENTINEL_HOST (every IPv4 address it
# resolves to but NOT_ASKED: a sentinel does not ask itself) name it. Sets MASTER_IP and
# MASTER_PORT and returns 0 when a named master answers as a master (or is
# SELF_IP:SELF_PORT, this very Redis). A named master that does not answer may be the one
# that just died, named again while the failover is still running, so keep asking, bounded
# by the failover timeout. Returns 1 when no sentinel names any master for ~10 s (first
# deployment, or every sentinel restarting) or when no named master answered within the
# failover timeout (every data node restarted on new addresses): the caller then looks for
# the master among the data nodes themselves, never following a dead address.
ask_for_master() {
  local host="$1" port="$2" name="$3" not_asked="$4" self_ip="${5:-}" self_port="${6:-}"
  local cli address reply ip master_port named_ip=""
  local quiet_deadline=$((SECONDS + 10)) deadline=$((SECONDS + 90)) tries
  cli="$(find_binary redis-cli)" || die "redis-cli not found; use an image with redis-tools"
  for ((tries = 0; tries < 60 && SECONDS <= deadline; tries++)); do
    while read -r address; do
      [ "$address" != "$not_asked" ] || continue
      reply="$(sentinel_cli "$cli" "$address" "$port" SENTINEL get-master-addr-by-name "$name" || true)"
      { read -r ip && read -r master_port; } <<<"$reply" || continue
      if ! is_ipv4 "$ip" || ! [[ "$master_port" =~ ^[0-9]{1,5}$ ]]; then continue; fi
      named_ip="$ip"
      if { [ -n "$self_port" ] && [ "$ip" = "$self_ip" ] && [ "$master_port" = "$self_port" ]; } || master_answers "$cli" "$ip" "$master_port"; then
        log "sentinel $address:$port names $ip:$master_port as master of $name"
        MASTER_IP="$ip"
        MASTER_PORT="$master_port"
        return 0
      fi
      log "sentinel $address:$port names $ip:$master_port, which does not answer as a master (failover in progress?); asking again"
    done < <(resolve_ipv4 "$host")
    if [ -z "$named_ip" ] && [ "$SECONDS" -gt "$quiet_deadline" ]; then return 1; fi
    sleep 2
  done
  if [ -n "$named_ip" ]; then
    log "no master the sentinels named answered within the failover timeout; looking for the master among the data nodes"
  fi
  return 1
}

# resolve_master HOST PORT: bounded wait for the master's name to appear in DNS (Swarm adds
# it once the task runs); sets MASTER_IP and MASTER_PORT=PORT.
resolve_master() {
  local host="$1" tries address deadline=$((SECONDS + 120))
  for ((tries = 0; tries < 60 && SECONDS <= deadline; tries++)); do
    address="$(resolve_ipv4 "$host")"
    address="${address%%$'\n'*}"
    if [ -n "$address" ]; then
      # shellcheck disable=SC2034 # MASTER_IP/MASTER_PORT are this function's result.
      MASTER_IP="$address" MASTER_PORT="$2"
      return 0
    fi
    sleep 2
  done
  die "--master-host '$host' did not resolve within 120 s; check that the Redis master service runs on the data network"
}

# Trap handler of the entrypoints (`trap on_startup_signal TERM INT`): until the final exec
# this bash is PID 1, which ignores SIGTERM without a handler, so stop promptly (the EXIT
# trap, if any, cleans up). exec resets caught signals.

on_startup_signal() {
  die "stopped by a signal during start-up"
}

# Backups (pg-dump.sh prunes the backup directory, upload.sh the buckets, by this one rule).
# retention_victims KEEP_LAST CUTOFF: reads file names of one database's backups
# (DB-YYYYmmddTHHMMSSZ.dump and DB-YYYYmmddTHHMMSSZ.dump.sha256) on stdin and prints those
# retention removes: stamped before CUTOFF (a YYYYmmddTHHMMSSZ stamp) and not part of one of
# the KEEP_LAST newest good dumps. A good dump is a .dump with its .sha256: a dump without
# its checksum, or a checksum without its dump, is never counted, only removed once old. The
# stamp in the name is when the dump was taken, so a copy keeps its age and the rule gives the
# same answer on disk and in a bucket; a backup outage of any length keeps KEEP_LAST dumps.
retention_victims() {
  local keep="$1" cutoff="$2" name stem count=0
  local -A dumps=() sums=() kept=()
  local -a names=()
  while IFS= read -r name; do
    case "$name" in
      *-????????T??????Z.dump) dumps["${name%.dump}"]=1 ;;
      *-????????T??????Z.dump.sha256) sums["${name%.dump.sha256}"]=1 ;;
      *) continue ;;
    esac
    names+=("$name")
  done
  # One database's stems differ only in the stamp: reverse name order is newest first.
  while IFS= read -r stem; do
    if [ -z "$stem" ] || [ -z "${sums[$stem]:-}" ]; then continue; fi
    ((count < keep)) || break
    kept[$stem]=1
    count=$((count + 1))
  done < <(printf '%s\n' "${!dumps[@]}" | LC_ALL=C sort -r)
  for name in "${names[@]}"; do
    stem="${name%.sha256}"
    stem="${stem%.dump}"
    [ -z "${kept[$stem]:-}" ] || continue
    if [[ "${stem##*-}" < "$cutoff" ]]; then printf '%s\n' "$name"; fi
  done
}

# utc_stamp EPOCH: EPOCH as a backup file stamp (YYYYmmddTHHMMSSZ), without date(1).
utc_stamp() {
  local TZ=UTC
  printf '%(%Y%m%dT%H%M%SZ)T' "$1"
}

# now_epoch: the current time in seconds since the epoch, without date(1).
now_epoch() {
  printf '%(%s)T' -1
}

# write_metrics FILE: stdin (Prometheus text format) as FILE, for node-exporter's textfile
# collector. Written beside it and renamed, so the collector never reads half a file (it
# reads only *.prom: node_exporter collector/textfile.go); 0644, since node-exporter runs
# as nobody. A failure is a warning: metrics never fail a backup.
write_metrics() {
  local file="$1" tmp="$1.tmp.$$"
  if { cat >"$tmp" && chmod 0644 -- "$tmp" && mv -f -- "$tmp" "$file"; } 2>/dev/null; then return 0; fi
  rm -f -- "$tmp" 2>/dev/null || true
  printf 'warning: could not write %s; the backup-age alerts cannot see this run\n' "$file" >&2
}

# run_child CMD...: run in the background and wait, so signals are handled promptly.
run_child() {
  local status=0
  "$@" &
  CHILD=$!
  wait "$CHILD" || status=$?
  CHILD=""
  return "$status"
}

# Trap handler of the backup loops (`trap on_loop_signal TERM INT`): PID 1 ignores SIGTERM
# unless it has a handler. Stops the running child, runs the script's cleanup and leaves
# at once (children run in the background, so the trap is not delayed until they finish).
on_loop_signal() {
  if [ -n "$CHILD" ]; then kill -TERM "$CHILD" 2>/dev/null || true; fi
  wait 2>/dev/null || true
  cleanup
  log stopped
  exit 143
}

# run_rounds FUNCTION: runs one round, exits 1 when it fails and 0 after it with --once;
# otherwise sleeps --interval-seconds and repeats forever.
run_rounds() {
  while :; do
    "$1" || exit 1
    if [ "${OPT[once]:-}" = 1 ]; then exit 0; fi
    run_child sleep "${OPT[interval-seconds]}"
  done
}
