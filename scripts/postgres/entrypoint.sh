#!/usr/bin/env bash
# postgres/entrypoint.sh: container command of the PostgreSQL primary and its streaming replicas.
#
# Usage (as root inside the container; the script drops to --run-as itself):
#   entrypoint.sh primary --data DIR --port N --hba-cidr CIDR --db NAME --user NAME
#       --password-file FILE --replication-user NAME --replication-password-file FILE
#       --slots NAME[,NAME...]|"" [--synchronous-standbys NAME[,NAME...]|""]
#       [--peer HOST:PORT]... [--cluster-record FILE] [--run-as USER] [--max-connections N]
#       [--max-slot-wal-keep-size MB]
#   entrypoint.sh replica --data DIR --port N --primary-host HOST --primary-port N --slot NAME
#       --replication-user NAME --replication-password-file FILE
#       [--peer HOST:PORT]... [--cluster-record FILE] [--run-as USER] [--max-connections N]
#
# Every member of the cluster (the primary and each replica) runs this script; which one is
# the primary is configuration. --peer names the other members, --cluster-record a file on
# the host that keeps the cluster's system identifier once the first member has data.
#
# primary, DIR empty: initdb, but only for a new cluster. It refuses when the host's record
#   names a cluster or a peer answers with data: an empty primary next to existing data is
#   how a cluster silently loses everything (the app writes into the empty one).
# primary, DIR holds a standby (planned promotion): waits until no other member runs as
#   primary, catches up from the most advanced replica among the peers, promotes (a new
#   timeline), and goes on as below.
# primary, DIR holds a primary: refused (fenced) when a peer of the same cluster is on a newer
#   timeline (another member was promoted meanwhile) or runs as primary.
# Then, on every start, it rewrites conf.d/medianest.conf and pg_hba.conf, and on a
#   temporary server that listens on a private Unix socket only, creates or updates the
#   application role and its database, the replication role and the physical replication
#   slots (passwords are re-applied on every start, so rotating a secret only needs a
#   restart); inactive slots not in --slots are dropped. --synchronous-standbys makes a
#   commit wait until ANY 1 of those standbys has flushed it.
# replica, DIR empty: cloned from --primary-host with pg_basebackup (refused when that is a
#   different cluster than the host's record). DIR holding a former primary (after a
#   promotion elsewhere): rewound onto the new primary with pg_rewind; if that fails the
#   old directory is kept aside (DIR.superseded-TIME) and a fresh clone is made. A
#   standby of another cluster than the primary's is refused. On every start it points
#   primary_conninfo/primary_slot_name at the primary, keeps standby.signal and the
#   read-only defaults.
# Crash recovery, clones and rewinds may take as long as they need (no start-up timeout);
# while they run, /tmp/medianest-postgres-starting exists (the health check accepts it),
# and PostgreSQL logs recovery progress every 10 s (log_startup_progress_interval).
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
# Present while the server is not up yet (recovery, clone, rewind): the health check passes
# on it, so Swarm does not kill a start-up that legitimately takes long.
readonly STARTING_MARKER=/tmp/medianest-postgres-starting
# How long a promotion waits for the old primary to stop, and to catch up from a replica.
readonly PROMOTION_WAIT_SECONDS=180
readonly CATCH_UP_SECONDS=120
# No start-up timeout: pg_ctl -w would give up on a long crash recovery after -t seconds.
readonly PG_CTL_WAIT_SECONDS=31536000

BINDIR=""
RUNTIME_DIR=""
TEMP_SERVER_DATA=""
APP_PASSWORD=""
REPLICATION_PASSWORD=""
SLOTS=()
SYNC_STANDBYS=()
PEERS=()
PEER_SYSID=""
PEER_TIMELINE=""
PEER_LSN=""
PEER_STANDBY=""

usage() {
  cat >&2 <<'EOF'
usage: entrypoint.sh primary --data DIR --port N --hba-cidr CIDR --db NAME --user NAME
           --password-file FILE --replication-user NAME --replication-password-file FILE
           --slots NAME[,NAME...]|"" [--synchronous-standbys NAME[,NAME...]|""]
           [--peer HOST:PORT]... [--cluster-record FILE] [--run-as USER] [--max-connections N]
           [--max-slot-wal-keep-size MB]
       entrypoint.sh replica --data DIR --port N --primary-host HOST --primary-port N
           --slot NAME --replication-user NAME --replication-password-file FILE
           [--peer HOST:PORT]... [--cluster-record FILE] [--run-as USER] [--max-connections N]
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
  run_child as_user "$BINDIR/pg_ctl" -D "$TEMP_SERVER_DATA" -m fast -w -t "$PG_CTL_WAIT_SECONDS" -s stop
  TEMP_SERVER_DATA=""
}

# Runs on any exit before the final exec: never leave the socket-only server or the
# password copies behind.
cleanup() {
  if [ -n "$TEMP_SERVER_DATA" ]; then stop_temp_server || true; fi
  if [ -n "$RUNTIME_DIR" ]; then rm -rf -- "$RUNTIME_DIR"; fi
  RUNTIME_DIR=""
  rm -f -- "$STARTING_MARKER"
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
    printf "hot_standby = on\nwal_keep_size = '%sMB'\npassword_encryption = 'scram-sha-256'\n" "$WAL_KEEP_MB"
    # A standby notices a dead upstream within 15 s (it pings after half of it) instead of
    # 60 s, and reconnects through the writer address: with synchronous commit, writes on a
    # new primary wait for exactly that.
    printf "wal_receiver_timeout = '15s'\n"
    printf '%s\n' "# Swarm's IPVS drops TCP connections idle for 900 s: probe well before that."
    printf 'tcp_keepalives_idle = 300\ntcp_keepalives_interval = 30\n'
    # pg_rewind needs hint bits WAL-logged (clusters we initdb also have checksums).
    printf 'wal_log_hints = on\n'
    if [ "$role" = replica ]; then
      printf 'default_transaction_read_only = on\n'
    elif [ "${#SYNC_STANDBYS[@]}" -gt 0 ]; then
      # Standbys report their slot name as application_name (write_standby_settings).
      printf "synchronous_standby_names = 'ANY 1 (%s)'\n" "$(IFS=,; printf '%s' "${SYNC_STANDBYS[*]}")"
    else
      printf "synchronous_standby_names = ''\n"
    fi
  } | install_file "$dir/conf.d/medianest.conf" 0600
  ensure_include_dir "$dir"
}

# Only the planned clients get in: local peer, localhost with a password, the application
# and the replication user from the database network (also to database postgres: a
# member that rejoins runs pg_rewind with it). Nothing else survives a restart.
write_hba() {
  local dir="$1"
  {
    printf '%s\n' '# Managed by MediaNest postgres/entrypoint.sh: rewritten on every start, edits are lost.'
    printf '%-7s %-12s %-20s %-18s %s\n' \
      local all all "" peer \
      host all all 127.0.0.1/32 scram-sha-256 \
      host "${OPT[db]}" "${OPT[user]}" "${OPT[hba-cidr]}" scram-sha-256 \
      host replication "${OPT[replication-user]}" "${OPT[hba-cidr]}" scram-sha-256 \
      host postgres "${OPT[replication-user]}" "${OPT[hba-cidr]}" scram-sha-256
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
# Crash recovery runs here and may take long: no timeout, and pg_ctl runs as a child so a
# stop signal is handled at once. Nothing waits for synchronous standbys on this server
# (none can connect to it). It gets the same command-line settings as the real server: a
# standby refuses to start with a lower max_connections than its primary's.
start_temp_server() {
  local dir="$1"
  TEMP_SERVER_DATA="$dir"
  run_child as_user "$BINDIR/pg_ctl" -D "$dir" -w -t "$PG_CTL_WAIT_SECONDS" -s \
    -o "-c listen_addresses='' -c unix_socket_directories='$RUNTIME_DIR' -c synchronous_standby_names='' ${SERVER_SETTINGS[*]}" start \
    || { TEMP_SERVER_DATA=""; die "the temporary server did not start; its log lines above say why"; }
}

# local_sql SQL: one value from the temporary server, as the superuser over its socket.
local_sql() {
  as_user "$BINDIR/psql" -XAtq -v ON_ERROR_STOP=1 -h "$RUNTIME_DIR" -p "${OPT[port]}" -U "$RUN_USER" -d postgres -c "$1"
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
-- What pg_rewind needs of a non-superuser source role (PostgreSQL 15 docs, pg_rewind "Notes").
GRANT EXECUTE ON FUNCTION pg_catalog.pg_ls_dir(text, boolean, boolean) TO :"repl_user";
GRANT EXECUTE ON FUNCTION pg_catalog.pg_stat_file(text, boolean) TO :"repl_user";
GRANT EXECUTE ON FUNCTION pg_catalog.pg_read_binary_file(text) TO :"repl_user";
GRANT EXECUTE ON FUNCTION pg_catalog.pg_read_binary_file(text, bigint, bigint, boolean) TO :"repl_user";
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

# --- Cluster identity, peers and promotion ------------------------------------------------

# control_field DIR LABEL: one line of pg_controldata's report (works on a stopped server).
control_field() {
  local dir="$1" label="$2" line report
  report="$(as_user env LC_ALL=C "$BINDIR/pg_controldata" -D "$dir")" \
    || die "pg_controldata cannot read $dir; the data directory is damaged"
  while IFS= read -r line; do
    if [[ "$line" == "$label:"* ]]; then
      line="${line#*:}"
      line="${line#"${line%%[![:space:]]*}"}"
      printf '%s\n' "$line"
      return 0
    fi
  done <<<"$report"
  die "pg_controldata reports no '$label' for $dir; the data directory is damaged"
}

# lsn_number LSN: a WAL position such as 0/3000148 as one integer, for comparisons.
lsn_number() {
  [[ "$1" =~ ^([0-9A-Fa-f]{1,8})/([0-9A-Fa-f]{1,8})$ ]] || die "'$1' is not a WAL position"
  printf '%s\n' $(((16#${BASH_REMATCH[1]} << 32) | 16#${BASH_REMATCH[2]}))
}

parse_peers() {
  local peer
  PEERS=()
  while IFS= read -r peer; do
    [ -n "$peer" ] || continue
    [[ "$peer" =~ ^[A-Za-z0-9][A-Za-z0-9.-]*:[0-9]{1,5}$ ]] || bad_arg "--peer '$peer' must be HOST:PORT"
    PEERS+=("$peer")
  done < <(flag_values peer)
}

write_peer_passfile() {
  pgpass_line "${OPT[replication-user]}" "$REPLICATION_PASSWORD" >"$RUNTIME_DIR/peer.pgpass"
  chown "$RUN_UID:$RUN_GID" -- "$RUNTIME_DIR/peer.pgpass"
  chmod 0600 -- "$RUNTIME_DIR/peer.pgpass"
}

# query_member HOST PORT: sets PEER_SYSID, PEER_TIMELINE, PEER_LSN (its current or received
# WAL position) and PEER_STANDBY (on/off) from a replication connection to a running member:
# IDENTIFY_SYSTEM and SHOW in_hot_standby (PostgreSQL 14+) are both walsender commands, so
# the replication role and its pg_hba line are all it needs. Returns 1 if nothing answers.
query_member() {
  local out first
  out="$(as_user env LC_ALL=C PGPASSFILE="$RUNTIME_DIR/peer.pgpass" PGCONNECT_TIMEOUT=3 "$BINDIR/psql" -XAtq -w -F ' ' \
    "host=$1 port=$2 user=${OPT[replication-user]} dbname=replication replication=true application_name=medianest-entrypoint" \
    -c IDENTIFY_SYSTEM -c 'SHOW in_hot_standby' 2>/dev/null)" || return 1
  first="${out%%$'\n'*}"
  read -r PEER_SYSID PEER_TIMELINE PEER_LSN _ <<<"$first"
  PEER_STANDBY="${out##*$'\n'}"
  [[ "$PEER_SYSID" =~ ^[0-9]+$ && "$PEER_TIMELINE" =~ ^[0-9]+$ && "$PEER_LSN" =~ ^[0-9A-F]+/[0-9A-F]+$ ]] || return 1
  [[ "$PEER_STANDBY" == on || "$PEER_STANDBY" == off ]] || return 1
}

recorded_cluster() {
  local file="${OPT[cluster-record]:-}" id=""
  if [ -n "$file" ] && [ -f "$file" ]; then
    id="$(<"$file")"
    [[ "$id" =~ ^[0-9]+$ ]] || die "$file does not hold a system identifier ('$id'); it is written by this script: restore it or remove it"
  fi
  printf '%s' "$id"
}

# record_cluster SYSID: keep the cluster's identity on the host (next to the data directories),
# so an emptied or replaced data directory is never silently initialised again.
record_cluster() {
  local file="${OPT[cluster-record]:-}" id="$1" tmp
  [ -n "$file" ] || return 0
  [ "$(recorded_cluster)" != "$id" ] || return 0
  tmp="$(mktemp "${file%/*}/.${file##*/}.XXXXXX")"
  printf '%s\n' "$id" >"$tmp"
  chmod 0644 -- "$tmp"
  mv -f -- "$tmp" "$file"
  log "recorded cluster identity $id in $file"
}

# check_identity DIR: DIR's cluster is the one this host recorded.
check_identity() {
  local dir="$1" own recorded
  own="$(control_field "$dir" "Database system identifier")"
  recorded="$(recorded_cluster)"
  if [ -n "$recorded" ] && [ "$own" != "$recorded" ]; then
    die "$dir holds cluster $own but this host belongs to cluster $recorded (${OPT[cluster-record]}); it is another installation's data: move it away (the member then clones or rejoins) or, if $own is the cluster you want, remove ${OPT[cluster-record]}"
  fi
  record_cluster "$own"
}

# Before initdb: a new cluster only where none exists yet.
guard_new_cluster() {
  local dir="$1" recorded peer
  recorded="$(recorded_cluster)"
  [ -z "$recorded" ] \
    || die "$dir is empty but this host held data of cluster $recorded (${OPT[cluster-record]}): refusing to start an empty primary in its place. If the primary's host died, promote a replica (services.postgres.primary; README \"The database host died\"); to restore, see README \"Restore a backup\"; only to start over with an empty database remove ${OPT[cluster-record]}"
  for peer in "${PEERS[@]}"; do
    if query_member "${peer%:*}" "${peer##*:}"; then
      die "$dir is empty but member $peer serves cluster $PEER_SYSID (timeline $PEER_TIMELINE): refusing to start an empty primary next to existing data. If the primary's data is gone, promote that member (services.postgres.primary; README \"The database host died\"); if the primary's labels moved by mistake, move them back"
    fi
  done
}

bootstrap_primary() {
  guard_new_cluster "$1"
  initialise_primary "$1"
}

# fence_primary DIR: a primary directory does not serve when the cluster moved on without it.
fence_primary() {
  local dir="$1" own timeline peer
  own="$(control_field "$dir" "Database system identifier")"
  timeline="$(control_field "$dir" "Latest checkpoint's TimeLineID")"
  for peer in "${PEERS[@]}"; do
    query_member "${peer%:*}" "${peer##*:}" || continue
    if [ "$PEER_SYSID" != "$own" ]; then
      log "warning: member $peer serves another cluster ($PEER_SYSID, this one is $own)"
      continue
    fi
    if ((PEER_TIMELINE > timeline)); then
      die "fenced: member $peer is on timeline $PEER_TIMELINE, newer than this directory's $timeline, so another member was promoted while this one was away; it must not serve writes. Set services.postgres.primary to the promoted member and apply: this member then rejoins as its replica (README \"The database host died\")"
    fi
    if [ "$PEER_STANDBY" = off ]; then
      die "fenced: member $peer already runs as primary of this cluster; two primaries would split the data. Check services.postgres.primary and apply (README \"The database host died\")"
    fi
  done
}

# set_auto_conf DIR CONNINFO SLOT: what ALTER SYSTEM would write for primary_conninfo and
# primary_slot_name, done on the file (the server is stopped); "" removes the setting.
set_auto_conf() {
  local auto="$1/postgresql.auto.conf" conninfo="$2" slot="$3"
  {
    if [ -f "$auto" ]; then
      grep -Ev '^[[:space:]]*(primary_conninfo|primary_slot_name)[[:space:]]*=' "$auto" || true
    else
      printf '# Do not edit this file manually!\n# It will be overwritten by the ALTER SYSTEM command.\n'
    fi
    if [ -n "$conninfo" ]; then printf "primary_conninfo = '%s'\n" "$conninfo"; fi
    if [ -n "$slot" ]; then printf "primary_slot_name = '%s'\n" "$slot"; fi
  } | install_file "$auto" 0600
}

# conninfo HOST PORT NAME: how a standby of this cluster reaches HOST (passfile in DIR).
standby_conninfo() {
  local conninfo="host=$1 port=$2 user=${OPT[replication-user]}"
  conninfo+=" passfile=$4/$REPLICATION_PASSFILE_NAME application_name=$3"
  conninfo+=" keepalives=1 keepalives_idle=300 keepalives_interval=30"
  printf '%s' "$conninfo"
}

# promote_standby DIR: the planned promotion of this member's standby data.
promote_standby() {
  local dir="$1" own timeline peer deadline=$((SECONDS + PROMOTION_WAIT_SECONDS)) running
  local best="" best_lsn=0 lsn replayed
  own="$(control_field "$dir" "Database system identifier")"
  timeline="$(control_field "$dir" "Latest checkpoint's TimeLineID")"
  log "this member is the configured primary now: promoting its standby data (cluster $own, timeline $timeline)"
  # 1. The old primary stops first (its own service update turns it into a replica);
  #    promoting while it still takes writes would lose those writes.
  while :; do
    running=""
    for peer in "${PEERS[@]}"; do
      query_member "${peer%:*}" "${peer##*:}" || continue
      [ "$PEER_SYSID" = "$own" ] || continue
      if [ "$PEER_STANDBY" = off ]; then
        ((PEER_TIMELINE <= timeline)) \
          || die "member $peer is already the primary on timeline $PEER_TIMELINE; set services.postgres.primary to it instead"
        running="$peer"
      fi
    done
    [ -n "$running" ] || break
    ((SECONDS < deadline)) \
      || die "member $running still runs as primary after ${PROMOTION_WAIT_SECONDS} s; it is configured as a replica now and should have stopped (check its service and apply again)"
    log "waiting for the old primary $running to stop"
    sleep 3
  done
  # 2. Catch up from the replica that received the most: with synchronous commit, an
  #    acknowledged commit is on at least one of them, not necessarily on this one.
  for peer in "${PEERS[@]}"; do
    query_member "${peer%:*}" "${peer##*:}" || continue
    if [ "$PEER_SYSID" != "$own" ] || [ "$PEER_STANDBY" != on ]; then continue; fi
    lsn="$(lsn_number "$PEER_LSN")"
    if ((lsn > best_lsn)); then best="$peer" best_lsn="$lsn"; fi
  done
  pgpass_line "${OPT[replication-user]}" "$REPLICATION_PASSWORD" | install_file "$dir/$REPLICATION_PASSFILE_NAME" 0600
  if [ -n "$best" ]; then
    set_auto_conf "$dir" "$(standby_conninfo "${best%:*}" "${best##*:}" medianest_promotion "$dir")" ""
  else
    set_auto_conf "$dir" "" ""
  fi
  start_temp_server "$dir"
  if [ -n "$best" ]; then
    deadline=$((SECONDS + CATCH_UP_SECONDS))
    while :; do
      replayed="$(local_sql "SELECT COALESCE(pg_last_wal_replay_lsn(), '0/0')")"
      (($(lsn_number "$replayed") >= best_lsn)) && break
      ((SECONDS < deadline)) \
        || die "could not catch up with $best within ${CATCH_UP_SECONDS} s (replayed $replayed); not promoting a member that may miss acknowledged commits"
      sleep 1
    done
    log "caught up with $best (WAL position $replayed)"
  fi
  [ "$(local_sql "SELECT pg_promote(true, 60)")" = t ] || die "pg_promote did not finish within 60 s"
  log "promoted: timeline $(local_sql "SELECT timeline_id FROM pg_control_checkpoint()") and on"
  stop_temp_server
  set_auto_conf "$dir" "" ""
  rm -f -- "$dir/$REPLICATION_PASSFILE_NAME"
}

# rejoin_primary_data DIR: this directory was a primary; another member is the primary now.
rejoin_primary_data() {
  local dir="$1" own aside
  own="$(control_field "$dir" "Database system identifier")"
  log "$dir was a primary; rejoining as a standby of ${OPT[primary-host]}:${OPT[primary-port]}"
  wait_for_primary
  query_member "${OPT[primary-host]}" "${OPT[primary-port]}" \
    || die "${OPT[primary-host]}:${OPT[primary-port]} accepts connections but answers no replication connection; check the replication password"
  [ "$PEER_STANDBY" = off ] || die "${OPT[primary-host]}:${OPT[primary-port]} is not a primary yet; retrying on the next start"
  [ "$PEER_SYSID" = "$own" ] \
    || die "${OPT[primary-host]} serves cluster $PEER_SYSID but $dir holds cluster $own; refusing to follow another cluster (move $dir away to clone the new one)"
  if run_child as_user env LC_ALL=C PGPASSFILE="$RUNTIME_DIR/peer.pgpass" "$BINDIR/pg_rewind" -D "$dir" \
    --source-server="host=${OPT[primary-host]} port=${OPT[primary-port]} user=${OPT[replication-user]} dbname=postgres"; then
    log "rewound $dir onto the primary's timeline $PEER_TIMELINE"
    return 0
  fi
  aside="$dir.superseded-$(date -u +%Y%m%dT%H%M%SZ)"
  mv -- "$dir" "$aside"
  mkdir -m 0700 -- "$dir"
  chown "$RUN_UID:$RUN_GID" -- "$dir"
  log "pg_rewind failed: kept the old data as $aside (remove it once the cluster is healthy) and cloning afresh"
  clone_primary "$dir"
}

# check_standby_source DIR: a standby only follows a primary of its own cluster.
check_standby_source() {
  local dir="$1" own
  own="$(control_field "$dir" "Database system identifier")"
  # One try: a primary that is down now is waited for by the standby itself.
  if query_member "${OPT[primary-host]}" "${OPT[primary-port]}" && [ "$PEER_SYSID" != "$own" ]; then
    die "${OPT[primary-host]} serves cluster $PEER_SYSID but $dir is a standby of cluster $own; it would keep serving stale data. Move $dir away so it clones the current cluster, or point services.postgres.primary at a member of cluster $own"
  fi
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
  : >"$STARTING_MARKER"
  write_peer_passfile
  if [ ! -f "$dir/PG_VERSION" ]; then "$bootstrap" "$dir"; fi
  rm -rf -- "${dir:?}/$STAGING_NAME"
  check_major_version "$dir"
}

primary_main() {
  parse_flags "data port hba-cidr db user password-file replication-user replication-password-file slots synchronous-standbys peer* cluster-record run-as max-connections max-slot-wal-keep-size" "$@"
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
  SYNC_STANDBYS=()
  IFS=, read -r -a raw_slots <<<"${OPT[synchronous-standbys]:-}"
  for slot in "${raw_slots[@]}"; do
    [ -n "$slot" ] || continue
    [[ " ${SLOTS[*]} " == *" $slot "* ]] || bad_arg "--synchronous-standbys entry '$slot' is not one of --slots"
    SYNC_STANDBYS+=("$slot")
  done
  parse_peers
  check_record_flag
  resolve_run_as postgres
  for slot in "${OPT[user]}" "${OPT[replication-user]}"; do
    [ "$slot" != "$RUN_USER" ] || bad_arg "role '$slot' is the superuser's name; choose another role name"
  done
  read_secret password-file APP_PASSWORD
  read_secret replication-password-file REPLICATION_PASSWORD
  find_bindir

  local dir="${OPT[data]}"
  open_data_dir "$dir" bootstrap_primary
  check_identity "$dir"
  ensure_socket_dir
  if [ -e "$dir/standby.signal" ]; then
    promote_standby "$dir"
  else
    fence_primary "$dir"
  fi
  write_conf "$dir" primary
  write_hba "$dir"
  start_temp_server "$dir"
  run_bootstrap_sql
  stop_temp_server
  cleanup
  trap - EXIT
  if [ "${#SYNC_STANDBYS[@]}" -gt 0 ]; then
    log "commits wait for ANY 1 of the standbys ${SYNC_STANDBYS[*]} (synchronous commit)"
  fi
  log "starting the primary on port ${OPT[port]}"
  exec_as_user "$BINDIR/postgres" -D "$dir" "${SERVER_SETTINGS[@]}"
}

check_record_flag() {
  if [ -n "${OPT[cluster-record]:-}" ]; then
    check_path cluster-record
    [ -d "${OPT[cluster-record]%/*}" ] || bad_arg "--cluster-record '${OPT[cluster-record]}': its directory does not exist"
  fi
}

# Settings given on the server's command line (they win over postgresql.conf). A hot standby
# refuses to start with a lower max_connections than its primary's, so both get the flag.
server_settings() {
  SERVER_SETTINGS=()
  # WAL kept for a standby that reconnects without a slot (a rejoin, a cascade).
  WAL_KEEP_MB=1024
  if [ -n "${OPT[max-connections]:-}" ]; then
    [[ "${OPT[max-connections]}" =~ ^[1-9][0-9]*$ ]] || bad_arg "--max-connections '${OPT[max-connections]}' is not a positive number"
    SERVER_SETTINGS+=(-c "max_connections=${OPT[max-connections]}")
  fi
  # A slot whose replica is away may hold at most this much WAL; past it the slot is
  # invalidated (the replica then needs a fresh base backup) instead of filling the disk.
  if [ -n "${OPT[max-slot-wal-keep-size]:-}" ]; then
    [[ "${OPT[max-slot-wal-keep-size]}" =~ ^[1-9][0-9]*$ ]] || bad_arg "--max-slot-wal-keep-size '${OPT[max-slot-wal-keep-size]}' is not a positive number of MB"
    SERVER_SETTINGS+=(-c "max_slot_wal_keep_size=${OPT[max-slot-wal-keep-size]}MB")
    # WAL kept for rejoins without a slot (wal_keep_size) stays within the same bound, so
    # the bound is what pg_wal holds for an absent replica, whatever its value.
    if ((10#${OPT[max-slot-wal-keep-size]} < WAL_KEEP_MB)); then WAL_KEEP_MB=$((10#${OPT[max-slot-wal-keep-size]})); fi
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
  local dir="$1" passfile="$RUNTIME_DIR/basebackup.pgpass" recorded
  prepare_bootstrap "$dir"
  log "waiting for the primary ${OPT[primary-host]}:${OPT[primary-port]}"
  wait_for_primary
  recorded="$(recorded_cluster)"
  if [ -n "$recorded" ] && query_member "${OPT[primary-host]}" "${OPT[primary-port]}" && [ "$PEER_SYSID" != "$recorded" ]; then
    die "${OPT[primary-host]} serves cluster $PEER_SYSID but this host belongs to cluster $recorded (${OPT[cluster-record]}): refusing to clone another cluster. If the new cluster is intended, remove ${OPT[cluster-record]}"
  fi
  pgpass_line "${OPT[replication-user]}" "$REPLICATION_PASSWORD" >"$passfile"
  chown "$RUN_UID:$RUN_GID" -- "$passfile"
  chmod 0600 -- "$passfile"
  log "cloning the primary into $dir (slot ${OPT[slot]})"
  as_user env PGPASSFILE="$passfile" "$BINDIR/pg_basebackup" -w -h "${OPT[primary-host]}" \
    -p "${OPT[primary-port]}" -U "${OPT[replication-user]}" -D "$dir/$STAGING_NAME/data" \
    -X stream -S "${OPT[slot]}" --checkpoint=fast \
    || die "pg_basebackup from ${OPT[primary-host]}:${OPT[primary-port]} failed; check that slot '${OPT[slot]}' is in the primary's --slots and the replication password matches"
  rm -f -- "$passfile"
  # A fresh clone is a standby from the start (a directory without it is a former primary).
  install_file "$dir/$STAGING_NAME/data/standby.signal" 0600 </dev/null
  promote_staging "$dir"
}

# What ALTER SYSTEM would write, done on the file because the server is not running:
# our two settings replace any older values, everything else is kept.
write_standby_settings() {
  local dir="$1"
  pgpass_line "${OPT[replication-user]}" "$REPLICATION_PASSWORD" | install_file "$dir/$REPLICATION_PASSFILE_NAME" 0600
  set_auto_conf "$dir" "$(standby_conninfo "${OPT[primary-host]}" "${OPT[primary-port]}" "${OPT[slot]}" "$dir")" "${OPT[slot]}"
  install_file "$dir/standby.signal" 0600 </dev/null
}

replica_main() {
  parse_flags "data port primary-host primary-port slot replication-user replication-password-file peer* cluster-record run-as max-connections" "$@"
  require_flags data port primary-host primary-port slot replication-user replication-password-file
  check_path data
  check_port port
  server_settings
  check_host primary-host
  check_port primary-port
  [[ "${OPT[slot]}" =~ ^[a-z0-9_]{1,63}$ ]] || bad_arg "--slot '${OPT[slot]}' must be lowercase letters, digits and _ (at most 63)"
  check_ident replication-user
  parse_peers
  check_record_flag
  resolve_run_as postgres
  read_secret replication-password-file REPLICATION_PASSWORD
  find_bindir

  local dir="${OPT[data]}"
  open_data_dir "$dir" clone_primary
  check_identity "$dir"
  ensure_socket_dir
  if [ -e "$dir/standby.signal" ]; then
    check_standby_source "$dir"
  else
    rejoin_primary_data "$dir"
    check_identity "$dir"
  fi
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
