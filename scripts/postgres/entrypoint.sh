#!/usr/bin/env bash
# postgres/entrypoint.sh: container command of the PostgreSQL primary and its streaming replicas.
#
# Usage (as root inside the container; the script drops to --run-as itself):
#   entrypoint.sh primary --data DIR --port N --hba-cidr CIDR --db NAME --user NAME
#       --password-file FILE --replication-user NAME --replication-password-file FILE
#       --slots NAME[,NAME...]|"" [--run-as USER] [--max-connections N]
#       [--max-slot-wal-keep-size MB]
#   entrypoint.sh replica --data DIR --port N --primary-host HOST --primary-port N --slot NAME
#       --replication-user NAME --replication-password-file FILE [--run-as USER] [--max-connections N]
#
# primary: an empty DIR gets initdb (superuser = the --run-as user with a random password
#   nobody needs: it logs in locally by peer auth only). On every start it rewrites
#   conf.d/medianest.conf and pg_hba.conf, then, on a temporary server that listens on a
#   private Unix socket only, creates or updates the application role and its database,
#   the replication role and the physical replication slots (passwords are re-applied on
#   every start, so rotating a secret only needs a restart). Slots are never dropped.
# replica: an empty DIR is cloned from the primary with pg_basebackup. On every start it
#   points primary_conninfo/primary_slot_name at the primary, keeps standby.signal and the
#   read-only defaults.
# Both end by exec'ing postgres as --run-as (default postgres), so it gets the signals.
# Stop it with SIGINT (fast shutdown); SIGTERM waits until every client has disconnected.
#
# Secrets are only ever read from files, as root, before privileges are dropped: they are
# never put on a command line, in the environment or in the logs.
# Exit status: 2 for bad arguments (nothing changed), 1 for any other failure.
set -euo pipefail

# shellcheck source-path=SCRIPTDIR source=../lib/container-lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/../lib/container-lib.sh"

readonly SCRIPT=postgres-entrypoint
# Our scratch area inside DIR while initdb/pg_basebackup run: its presence without
# PG_VERSION marks an interrupted bootstrap that is safe to wipe.
readonly STAGING_NAME=.medianest-bootstrap
readonly SOCKET_DIR=/var/run/postgresql
readonly REPLICATION_PASSFILE_NAME=medianest-replication.pgpass

BINDIR=""
RUNTIME_DIR=""
TEMP_SERVER_DATA=""
APP_PASSWORD=""
REPLICATION_PASSWORD=""
SLOTS=()

usage() {
  cat >&2 <<'EOF'
usage: entrypoint.sh primary --data DIR --port N --hba-cidr CIDR --db NAME --user NAME
           --password-file FILE --replication-user NAME --replication-password-file FILE
           --slots NAME[,NAME...]|"" [--run-as USER] [--max-connections N]
           [--max-slot-wal-keep-size MB]
       entrypoint.sh replica --data DIR --port N --primary-host HOST --primary-port N
           --slot NAME --replication-user NAME --replication-password-file FILE [--run-as USER] [--max-connections N]
EOF
  exit 2
}

# Role, database and slot names are restricted to lowercase SQL identifiers so they need no
# quoting in pg_hba.conf, conninfo strings and file names.
check_ident() {
  [[ "${OPT[$1]}" =~ ^[a-z_][a-z0-9_]{0,62}$ ]] \
    || bad_arg "--$1 '${OPT[$1]}' must be a lowercase identifier: [a-z_][a-z0-9_]*, at most 63 characters"
}

# Like check_cidr4, but names the part of the CIDR that is wrong.
check_cidr4_detailed() {
  local re='^([0-9]{1,3})\.([0-9]{1,3})\.([0-9]{1,3})\.([0-9]{1,3})/([0-9]{1,2})$' i
  [[ "${OPT[$1]}" =~ $re ]] || bad_arg "--$1 '${OPT[$1]}' is not an IPv4 CIDR such as 10.0.9.0/24"
  for i in 1 2 3 4; do
    ((10#${BASH_REMATCH[$i]} <= 255)) || bad_arg "--$1 '${OPT[$1]}' has an octet above 255"
  done
  ((10#${BASH_REMATCH[5]} <= 32)) || bad_arg "--$1 '${OPT[$1]}' has a prefix length above 32"
}

# BINDIR: the directory of the server binaries, wherever the image layout keeps them.
find_bindir() {
  local postgres
  postgres="$(find_pg_tool postgres)" \
    || die "no PostgreSQL server binaries found (pg_config --bindir, /usr/lib/postgresql/15/bin, PATH); use an image with postgresql-15"
  BINDIR="${postgres%/*}"
}

# Run a command as the --run-as user, like exec_as_user but as a child.
as_user() {
  if [ "$(id -u)" = "$RUN_UID" ]; then
    "$@"
  elif command -v setpriv >/dev/null 2>&1; then
    setpriv --reuid="$RUN_UID" --regid="$RUN_GID" --init-groups -- "$@"
  else
    runuser -u "$RUN_USER" -- "$@"
  fi
}

# install_file PATH MODE < content: atomic replace, owned by the --run-as user.
install_file() {
  local path="$1" mode="$2" tmp
  tmp="$(mktemp "${path%/*}/.${path##*/}.XXXXXX")"
  if ! cat >"$tmp"; then
    rm -f -- "$tmp"
    die "could not write $path; check free space on the volume"
  fi
  chmod "$mode" "$tmp"
  chown "$RUN_UID:$RUN_GID" "$tmp"
  mv -f -- "$tmp" "$path"
}

make_runtime_dir() {
  RUNTIME_DIR="$(mktemp -d "${TMPDIR:-/tmp}/medianest-postgres.XXXXXX")"
  chmod 0700 "$RUNTIME_DIR"
  chown "$RUN_UID:$RUN_GID" "$RUNTIME_DIR"
}

stop_temp_server() {
  [ -n "$TEMP_SERVER_DATA" ] || return 0
  as_user "$BINDIR/pg_ctl" -D "$TEMP_SERVER_DATA" -m fast -w -t 60 -s stop
  TEMP_SERVER_DATA=""
}

# Runs on any exit before the final exec: never leave the socket-only server or the
# password copies behind.
cleanup() {
  if [ -n "$TEMP_SERVER_DATA" ]; then stop_temp_server || true; fi
  if [ -n "$RUNTIME_DIR" ]; then rm -rf -- "$RUNTIME_DIR"; fi
  RUNTIME_DIR=""
}

# The directory must belong to the server user and be private (postgres refuses otherwise).
prepare_data_dir() {
  local dir="$1"
  claim_data_dir "$dir"
  as_user test -w "$dir" -a -x "$dir" \
    || die "'$dir' is not reachable by user $RUN_USER; make its parent directories searchable (o+x)"
}

# A data directory without PG_VERSION is either empty, the remains of our own interrupted
# bootstrap (wiped), or something else (refused: never delete what we did not create).
prepare_bootstrap() {
  local dir="$1" leftover
  if [ -e "$dir/$STAGING_NAME" ]; then
    log "removing the remains of an interrupted bootstrap in $dir"
    find "$dir" -mindepth 1 -maxdepth 1 ! -name lost+found -exec rm -rf -- {} +
  fi
  leftover="$(find "$dir" -mindepth 1 -maxdepth 1 ! -name lost+found -print -quit)"
  [ -z "$leftover" ] \
    || die "'$dir' is not empty but has no PG_VERSION, so it is no PostgreSQL data directory ('$leftover'); empty it or point --data at an empty directory"
  mkdir -m 0700 -- "$dir/$STAGING_NAME"
  chown "$RUN_UID:$RUN_GID" -- "$dir/$STAGING_NAME"
}

# Move a finished cluster from the staging area into DIR. PG_VERSION goes last, so DIR only
# looks initialised once everything else is in place.
promote_staging() {
  local dir="$1" src="$1/$STAGING_NAME/data" entry name
  local -a entries
  shopt -s nullglob dotglob
  entries=("$src"/*)
  shopt -u nullglob dotglob
  for entry in "${entries[@]}"; do
    name="${entry##*/}"
    case "$name" in
      PG_VERSION | "$STAGING_NAME" | lost+found) continue ;;
    esac
    mv -- "$entry" "$dir/$name"
  done
  sync -- "$dir"
  mv -- "$src/PG_VERSION" "$dir/PG_VERSION"
  sync -- "$dir"
  rm -rf -- "${dir:?}/$STAGING_NAME"
}

check_major_version() {
  local dir="$1" data_version binary_version
  data_version="$(<"$dir/PG_VERSION")"
  binary_version="$("$BINDIR/postgres" --version)"
  binary_version="${binary_version#*) }"
  binary_version="${binary_version%%.*}"
  [ "$data_version" = "$binary_version" ] \
    || die "$dir holds PostgreSQL $data_version data but the binaries are version $binary_version; upgrade the data with pg_upgrade or use a version $data_version image"
}

# The default socket directory is created by systemd-tmpfiles on a host, which a container
# never runs.
ensure_socket_dir() {
  if [ ! -d "$SOCKET_DIR" ]; then
    mkdir -p -- "$SOCKET_DIR"
    chmod 2775 -- "$SOCKET_DIR"
  fi
  if [ "$(stat -c %u -- "$SOCKET_DIR")" != "$RUN_UID" ]; then
    chown "$RUN_UID:$RUN_GID" -- "$SOCKET_DIR"
  fi
}

ensure_include_dir() {
  local conf="$1/postgresql.conf"
  [ -f "$conf" ] || die "$conf is missing; the data directory is damaged"
  if ! grep -Eq "^[[:space:]]*include_dir[[:space:]]*=?[[:space:]]*'conf\.d'" "$conf"; then
    printf "\n# Added by MediaNest: the settings in conf.d/ override the ones above.\ninclude_dir = 'conf.d'\n" >>"$conf"
    log "added include_dir 'conf.d' to $conf"
  fi
}

# write_conf DIR ROLE: our settings, regenerated on every start.
write_conf() {
  local dir="$1" role="$2"
  if [ ! -d "$dir/conf.d" ]; then
    mkdir -m 0700 -- "$dir/conf.d"
    chown "$RUN_UID:$RUN_GID" -- "$dir/conf.d"
  fi
  {
    printf '%s\n' "# Managed by MediaNest postgres/entrypoint.sh ($role): rewritten on every start, edits are lost."
    printf "listen_addresses = '*'\n"
    printf 'port = %s\n' "${OPT[port]}"
    printf "unix_socket_directories = '%s'\n" "$SOCKET_DIR"
    # Same replication settings on both sides: a standby needs at least the primary's
    # values, and a promoted replica can serve replicas in turn.
    printf 'wal_level = replica\nmax_wal_senders = 10\nmax_replication_slots = 10\n'
    printf "hot_standby = on\nwal_keep_size = '1GB'\npassword_encryption = 'scram-sha-256'\n"
    printf '%s\n' "# Swarm's IPVS drops TCP connections idle for 900 s: probe well before that."
    printf 'tcp_keepalives_idle = 300\ntcp_keepalives_interval = 30\n'
    if [ "$role" = replica ]; then
      printf 'default_transaction_read_only = on\n'
    fi
  } | install_file "$dir/conf.d/medianest.conf" 0600
  ensure_include_dir "$dir"
}

# Only the planned clients get in: local peer, localhost with a password, the application
# and the replication user from the database network. Nothing else survives a restart.
write_hba() {
  local dir="$1"
  {
    printf '%s\n' '# Managed by MediaNest postgres/entrypoint.sh: rewritten on every start, edits are lost.'
    printf '%-7s %-12s %-20s %-18s %s\n' \
      local all all "" peer \
      host all all 127.0.0.1/32 scram-sha-256 \
      host "${OPT[db]}" "${OPT[user]}" "${OPT[hba-cidr]}" scram-sha-256 \
      host replication "${OPT[replication-user]}" "${OPT[hba-cidr]}" scram-sha-256
  } | install_file "$dir/pg_hba.conf" 0600
}

initialise_primary() {
  local dir="$1" pwfile="$RUNTIME_DIR/superuser.pw"
  prepare_bootstrap "$dir"
  # The superuser only ever logs in by local peer auth; its password exists so that no
  # role is left without one, and nobody keeps it.
  head -c 32 /dev/urandom | base64 -w0 >"$pwfile"
  chown "$RUN_UID:$RUN_GID" -- "$pwfile"
  chmod 0600 -- "$pwfile"
  log "initialising a new cluster in $dir"
  as_user "$BINDIR/initdb" -D "$dir/$STAGING_NAME/data" -U "$RUN_USER" --pwfile="$pwfile" \
    --auth-local=peer --auth-host=scram-sha-256 --encoding=UTF8 --locale=C --data-checksums --no-instructions
  rm -f -- "$pwfile"
  promote_staging "$dir"
}

# A temporary server on a private socket and no TCP address: nobody can connect while the
# roles and passwords are being set up.
start_temp_server() {
  local dir="$1"
  as_user "$BINDIR/pg_ctl" -D "$dir" -w -t 60 -s \
    -o "-c listen_addresses='' -c unix_socket_directories='$RUNTIME_DIR'" start \
    || die "the temporary server did not start; its log lines above say why"
  TEMP_SERVER_DATA="$dir"
}

# The SQL for the roles, the database and the slots. Passwords travel base64-encoded
# through psql's stdin (never argv) and are decoded by the server into psql variables.
bootstrap_sql() {
  local app_b64 repl_b64 slot
  app_b64="$(printf '%s' "$APP_PASSWORD" | base64 -w0)"
  repl_b64="$(printf '%s' "$REPLICATION_PASSWORD" | base64 -w0)"
  cat <<'SQL'
SET client_min_messages = warning;
-- A failing statement would otherwise be logged with the password in it.
SET log_min_error_statement = panic;
SET log_statement = 'none';
SQL
  printf "\\\\set app_b64 '%s'\n\\\\set repl_b64 '%s'\n" "$app_b64" "$repl_b64"
  cat <<'SQL'
SELECT convert_from(decode(:'app_b64', 'base64'), 'UTF8') AS app_pw,
       convert_from(decode(:'repl_b64', 'base64'), 'UTF8') AS repl_pw \gset
\unset app_b64
\unset repl_b64

SELECT NOT EXISTS (SELECT FROM pg_roles WHERE rolname = :'app_user') AS missing \gset
\if :missing
CREATE ROLE :"app_user" LOGIN;
\echo postgres-entrypoint: created role :app_user
\endif
ALTER ROLE :"app_user" WITH LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION NOBYPASSRLS PASSWORD :'app_pw';

SELECT NOT EXISTS (SELECT FROM pg_database WHERE datname = :'db') AS missing \gset
\if :missing
CREATE DATABASE :"db" OWNER :"app_user";
\echo postgres-entrypoint: created database :db
\endif
ALTER DATABASE :"db" OWNER TO :"app_user";

SELECT NOT EXISTS (SELECT FROM pg_roles WHERE rolname = :'repl_user') AS missing \gset
\if :missing
CREATE ROLE :"repl_user" REPLICATION LOGIN;
\echo postgres-entrypoint: created role :repl_user
\endif
ALTER ROLE :"repl_user" WITH REPLICATION LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOBYPASSRLS PASSWORD :'repl_pw';
\unset app_pw
\unset repl_pw
SQL
  # Slots of replicas no longer configured hold WAL forever: drop them (never an active one).
  printf "\\\\set keep '%s'\n" "$(IFS=,; printf '%s' "${SLOTS[*]}")"
  cat <<'SQL'
SELECT string_agg(slot_name, ', ') AS stale FROM pg_replication_slots
 WHERE slot_type = 'physical' AND NOT active AND slot_name <> ALL (string_to_array(:'keep', ',')) \gset
\if :{?stale}
SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots
 WHERE slot_type = 'physical' AND NOT active AND slot_name <> ALL (string_to_array(:'keep', ','));
\echo postgres-entrypoint: dropped replication slots no replica is configured for: :stale
\endif
SQL
  for slot in "${SLOTS[@]}"; do
    printf "\\\\set slot '%s'\n" "$slot"
    cat <<'SQL'
SELECT NOT EXISTS (SELECT FROM pg_replication_slots WHERE slot_name = :'slot') AS missing \gset
\if :missing
SELECT pg_create_physical_replication_slot(:'slot') IS NOT NULL AS created \gset
\echo postgres-entrypoint: created replication slot :slot
\endif
SQL
  done
}

run_bootstrap_sql() {
  bootstrap_sql | as_user "$BINDIR/psql" -X -q -v ON_ERROR_STOP=1 -h "$RUNTIME_DIR" -p "${OPT[port]}" \
    -U "$RUN_USER" -d postgres -v app_user="${OPT[user]}" -v db="${OPT[db]}" \
    -v repl_user="${OPT[replication-user]}" \
    || die "setting up roles, database and slots failed; see the messages above"
}

# open_data_dir DIR BOOTSTRAP: DIR ready for this server: owned and private, a runtime
# directory (removed on exit), bootstrapped by the function BOOTSTRAP when it holds no
# cluster yet, the staging leftovers of an interrupted bootstrap gone, the major version ours.
open_data_dir() {
  local dir="$1" bootstrap="$2"
  cd /
  prepare_data_dir "$dir"
  make_runtime_dir
  trap cleanup EXIT
  if [ ! -f "$dir/PG_VERSION" ]; then "$bootstrap" "$dir"; fi
  rm -rf -- "${dir:?}/$STAGING_NAME"
  check_major_version "$dir"
}

primary_main() {
  parse_flags "data port hba-cidr db user password-file replication-user replication-password-file slots run-as max-connections max-slot-wal-keep-size" "$@"
  require_flags data port hba-cidr db user password-file replication-user replication-password-file slots
  check_path data
  check_port port
  server_settings
  check_cidr4_detailed hba-cidr
  check_ident db
  check_ident user
  check_ident replication-user
  case "${OPT[db]}" in
    postgres | template0 | template1) bad_arg "--db '${OPT[db]}' is a system database; name the application's own database" ;;
  esac
  [ "${OPT[user]}" != "${OPT[replication-user]}" ] || bad_arg "--user and --replication-user must be different roles"
  local slot
  local -a raw_slots
  SLOTS=()
  IFS=, read -r -a raw_slots <<<"${OPT[slots]}"
  for slot in "${raw_slots[@]}"; do
    [ -n "$slot" ] || continue
    [[ "$slot" =~ ^[a-z0-9_]{1,63}$ ]] || bad_arg "--slots entry '$slot' must be lowercase letters, digits and _ (at most 63)"
    [[ " ${SLOTS[*]} " == *" $slot "* ]] || SLOTS+=("$slot")
  done
  resolve_run_as postgres
  for slot in "${OPT[user]}" "${OPT[replication-user]}"; do
    [ "$slot" != "$RUN_USER" ] || bad_arg "role '$slot' is the superuser's name; choose another role name"
  done
  read_secret password-file APP_PASSWORD
  read_secret replication-password-file REPLICATION_PASSWORD
  find_bindir

  local dir="${OPT[data]}"
  open_data_dir "$dir" initialise_primary
  [ ! -e "$dir/standby.signal" ] \
    || die "$dir is a standby (standby.signal exists); to make it the primary run 'pg_ctl promote' on the running replica first"
  ensure_socket_dir
  write_conf "$dir" primary
  write_hba "$dir"
  start_temp_server "$dir"
  run_bootstrap_sql
  stop_temp_server
  cleanup
  trap - EXIT
  log "starting the primary on port ${OPT[port]}"
  exec_as_user "$BINDIR/postgres" -D "$dir" "${SERVER_SETTINGS[@]}"
}

# Settings given on the server's command line (they win over postgresql.conf). A hot standby
# refuses to start with a lower max_connections than its primary's, so both get the flag.
server_settings() {
  SERVER_SETTINGS=()
  if [ -n "${OPT[max-connections]:-}" ]; then
    [[ "${OPT[max-connections]}" =~ ^[1-9][0-9]*$ ]] || bad_arg "--max-connections '${OPT[max-connections]}' is not a positive number"
    SERVER_SETTINGS+=(-c "max_connections=${OPT[max-connections]}")
  fi
  # A slot whose replica is away may hold at most this much WAL; past it the slot is
  # invalidated (the replica then needs a fresh base backup) instead of filling the disk.
  if [ -n "${OPT[max-slot-wal-keep-size]:-}" ]; then
    [[ "${OPT[max-slot-wal-keep-size]}" =~ ^[1-9][0-9]*$ ]] || bad_arg "--max-slot-wal-keep-size '${OPT[max-slot-wal-keep-size]}' is not a positive number of MB"
    SERVER_SETTINGS+=(-c "max_slot_wal_keep_size=${OPT[max-slot-wal-keep-size]}MB")
  fi
}

wait_for_primary() {
  local host="${OPT[primary-host]}" port="${OPT[primary-port]}" tries=0 deadline=$((SECONDS + 120))
  until "$BINDIR/pg_isready" -q -h "$host" -p "$port" -t 3; do
    tries=$((tries + 1))
    if ((tries >= 60 || SECONDS >= deadline)); then
      die "the primary $host:$port did not accept connections within 120 s; check that the primary service runs and shares the database network"
    fi
    sleep 2
  done
}

clone_primary() {
  local dir="$1" passfile="$RUNTIME_DIR/basebackup.pgpass"
  prepare_bootstrap "$dir"
  log "waiting for the primary ${OPT[primary-host]}:${OPT[primary-port]}"
  wait_for_primary
  pgpass_line "${OPT[replication-user]}" "$REPLICATION_PASSWORD" >"$passfile"
  chown "$RUN_UID:$RUN_GID" -- "$passfile"
  chmod 0600 -- "$passfile"
  log "cloning the primary into $dir (slot ${OPT[slot]})"
  as_user env PGPASSFILE="$passfile" "$BINDIR/pg_basebackup" -w -h "${OPT[primary-host]}" \
    -p "${OPT[primary-port]}" -U "${OPT[replication-user]}" -D "$dir/$STAGING_NAME/data" \
    -X stream -S "${OPT[slot]}" --checkpoint=fast \
    || die "pg_basebackup from ${OPT[primary-host]}:${OPT[primary-port]} failed; check that slot '${OPT[slot]}' is in the primary's --slots and the replication password matches"
  rm -f -- "$passfile"
  promote_staging "$dir"
}

# What ALTER SYSTEM would write, done on the file because the server is not running:
# our two settings replace any older values, everything else is kept.
write_standby_settings() {
  local dir="$1" auto="$1/postgresql.auto.conf" conninfo
  pgpass_line "${OPT[replication-user]}" "$REPLICATION_PASSWORD" | install_file "$dir/$REPLICATION_PASSFILE_NAME" 0600
  conninfo="host=${OPT[primary-host]} port=${OPT[primary-port]} user=${OPT[replication-user]}"
  conninfo+=" passfile=$dir/$REPLICATION_PASSFILE_NAME application_name=${OPT[slot]}"
  conninfo+=" keepalives=1 keepalives_idle=300 keepalives_interval=30"
  {
    if [ -f "$auto" ]; then
      grep -Ev '^[[:space:]]*(primary_conninfo|primary_slot_name)[[:space:]]*=' "$auto" || true
    else
      printf '# Do not edit this file manually!\n# It will be overwritten by the ALTER SYSTEM command.\n'
    fi
    printf "primary_conninfo = '%s'\n" "$conninfo"
    printf "primary_slot_name = '%s'\n" "${OPT[slot]}"
  } | install_file "$auto" 0600
  install_file "$dir/standby.signal" 0600 </dev/null
}

replica_main() {
  parse_flags "data port primary-host primary-port slot replication-user replication-password-file run-as max-connections" "$@"
  require_flags data port primary-host primary-port slot replication-user replication-password-file
  check_path data
  check_port port
  server_settings
  check_host primary-host
  check_port primary-port
  [[ "${OPT[slot]}" =~ ^[a-z0-9_]{1,63}$ ]] || bad_arg "--slot '${OPT[slot]}' must be lowercase letters, digits and _ (at most 63)"
  check_ident replication-user
  resolve_run_as postgres
  read_secret replication-password-file REPLICATION_PASSWORD
  find_bindir

  local dir="${OPT[data]}"
  open_data_dir "$dir" clone_primary
  ensure_socket_dir
  write_conf "$dir" replica
  write_standby_settings "$dir"
  cleanup
  trap - EXIT
  log "starting the read-only replica on port ${OPT[port]}, following ${OPT[primary-host]}:${OPT[primary-port]}"
  exec_as_user "$BINDIR/postgres" -D "$dir" "${SERVER_SETTINGS[@]}"
}

main() {
  exec </dev/null
  # The EXIT trap set later stops the temporary server.
  trap on_startup_signal TERM INT
  # Everything written here is private unless a mode says otherwise.
  umask 077
  [ "$#" -ge 1 ] || usage
  local mode="$1"
  shift
  case "$mode" in
    primary) primary_main "$@" ;;
    replica) replica_main "$@" ;;
    -h | --help) usage ;;
    *) bad_arg "unknown mode '$mode'; use primary or replica" ;;
  esac
}

main "$@"
