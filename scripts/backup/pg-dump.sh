#!/usr/bin/env bash
# backup/pg-dump.sh: logical backups of one PostgreSQL database (runs in the postgres image).
#
# Usage:
#   pg-dump.sh --host HOST --port N --db NAME --user NAME --password-file FILE --dir DIR
#       --interval-seconds N --retention-days N --keep-last N [--metrics-dir DIR] [--once]
#
# Each round writes DIR/NAME-YYYYmmddTHHMMSSZ.dump (pg_dump custom format) through a
# .partial file that is fsynced and then renamed, so a .dump file is always complete, plus
# NAME-...dump.sha256 (a `sha256sum` line, checked by restore.sh). It prints
#   backup: <file> <bytes> bytes in <seconds> s
# then prunes this database's dumps by retention_victims (lib/container-lib.sh): a dump and
# its checksum go once their stamp is more than --retention-days old, except the
# --keep-last newest good dumps (with their .sha256), which stay whatever their age, so a
# backup outage never leaves the directory empty. .partial files left over for more than a
# day by an interrupted run go too. Pruning only follows a successful round.
# With --metrics-dir it then writes DIR/medianest_backup_NAME.prom for node-exporter's
# textfile collector: medianest_backup_last_success_timestamp_seconds, _last_size_bytes and
# _last_duration_seconds, labelled database=NAME (the backup-age alerts read them).
# --host may be a streaming replica (backup.fromReplica): pg_dump takes its snapshot there.
# --once does one round and exits 0 (pre-deploy backups); otherwise it sleeps
# --interval-seconds and repeats forever. A failed round exits non-zero, so Swarm
# restarts the service and the failure is visible.
# The password is handed to pg_dump in a private 0600 passfile (PGPASSFILE), never on a
# command line. Files are created 0600: a dump holds all the data.
# Exit status: 2 for bad arguments, 1 for a failed round, 143 when stopped by SIGTERM.
set -euo pipefail

# shellcheck source-path=SCRIPTDIR source=../lib/container-lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/../lib/container-lib.sh"

readonly SCRIPT=pg-dump

PG_DUMP=""
PG_ISREADY=""
WORK_DIR=""
PARTIAL=""

usage() {
  cat >&2 <<'EOF'
usage: pg-dump.sh --host HOST --port N --db NAME --user NAME --password-file FILE --dir DIR
           --interval-seconds N --retention-days N --keep-last N [--metrics-dir DIR] [--once]
EOF
  exit 2
}

# The passfile is rebuilt every round from the secret, so a rotated password is picked up.
write_passfile() {
  local password
  read_secret_file password-file password
  pgpass_line "${OPT[user]}" "$password" >"$WORK_DIR/pgpass"
  chmod 0600 "$WORK_DIR/pgpass"
}

# Fail on a missing or malformed secret before the first round, not in the middle of one.
check_secret() {
  local value
  read_secret_file "$1" value
}

# On exit and on a signal (on_loop_signal): drop the partial file of an unfinished round.
cleanup() {
  if [ -n "$PARTIAL" ]; then rm -f -- "$PARTIAL"; fi
  if [ -n "$WORK_DIR" ]; then rm -rf -- "$WORK_DIR"; fi
}

# A short bounded wait, so a database that is still starting does not fail the round.
wait_for_server() {
  local tries deadline=$((SECONDS + 30))
  for ((tries = 0; tries < 15 && SECONDS <= deadline; tries++)); do
    if "$PG_ISREADY" -q -h "${OPT[host]}" -p "${OPT[port]}" -t 2; then return 0; fi
    sleep 2
  done
  return 1
}

backup_round() {
  local dir="${OPT[dir]}" db="${OPT[db]}" stamp base final bytes sum
  if ! wait_for_server; then
    printf 'error: %s:%s does not accept connections (waited 30 s); check the database service\n' "${OPT[host]}" "${OPT[port]}" >&2
    return 1
  fi
  write_passfile
  # A pre-deploy --once may start in the same second as the service's round: never share
  # a file name with it.
  local tries
  for ((tries = 0; tries < 5; tries++)); do
    stamp="$(date -u +%Y%m%dT%H%M%SZ)"
    base="$db-$stamp.dump"
    final="$dir/$base"
    [ -e "$final" ] || [ -e "$final.partial" ] || break
    sleep 1
  done
  if [ -e "$final" ] || [ -e "$final.partial" ]; then
    printf 'error: %s already exists; is another backup of %s running into %s?\n' "$final" "$db" "$dir" >&2
    return 1
  fi
  PARTIAL="$final.partial"
  local started=$SECONDS
  if ! PGPASSFILE="$WORK_DIR/pgpass" run_child "$PG_DUMP" -w -Fc -h "${OPT[host]}" -p "${OPT[port]}" \
    -U "${OPT[user]}" -d "$db" -f "$PARTIAL"; then
    printf 'error: pg_dump of %s from %s:%s failed; see its message above\n' "$db" "${OPT[host]}" "${OPT[port]}" >&2
    return 1
  fi
  # Data first, then the rename, then the directory entry: a crash never leaves a
  # truncated file under the final name.
  sync -- "$PARTIAL"
  sum="$(sha256sum -- "$PARTIAL")"
  sum="${sum%% *}"
  mv -f -- "$PARTIAL" "$final"
  PARTIAL="$final.sha256.partial"
  printf '%s  %s\n' "$sum" "$base" >"$PARTIAL"
  sync -- "$PARTIAL"
  mv -f -- "$PARTIAL" "$final.sha256"
  PARTIAL=""
  sync -- "$dir"
  bytes="$(stat -c %s -- "$final")"
  printf 'backup: %s %s bytes in %s s\n' "$final" "$bytes" "$((SECONDS - started))"
  prune
  if [ -n "${OPT[metrics-dir]:-}" ]; then dump_metrics "$bytes" "$((SECONDS - started))"; fi
}

dump_metrics() {
  local db="${OPT[db]}" now
  now="$(now_epoch)"
  write_metrics "${OPT[metrics-dir]}/medianest_backup_$db.prom" <<EOF
# HELP medianest_backup_last_success_timestamp_seconds When the newest complete dump (with its checksum) was written.
# TYPE medianest_backup_last_success_timestamp_seconds gauge
medianest_backup_last_success_timestamp_seconds{database="$db"} $now
# HELP medianest_backup_last_size_bytes Size of the newest dump.
# TYPE medianest_backup_last_size_bytes gauge
medianest_backup_last_size_bytes{database="$db"} $1
# HELP medianest_backup_last_duration_seconds How long the newest dump took.
# TYPE medianest_backup_last_duration_seconds gauge
medianest_backup_last_duration_seconds{database="$db"} $2
EOF
}

# Only this database's files with our exact name pattern are ever deleted.
prune() {
  local dir="${OPT[dir]}" db="${OPT[db]}" cutoff name file
  cutoff="$(utc_stamp "$(($(now_epoch) - OPT[retention-days] * 86400))")"
  while IFS= read -r name; do
    rm -f -- "${dir:?}/$name"
    printf 'pruned: %s\n' "$dir/$name"
  done < <(find "$dir" -maxdepth 1 -type f \( -name "$db-????????T??????Z.dump" -o -name "$db-????????T??????Z.dump.sha256" \) -printf '%f\n' \
    | retention_victims "${OPT[keep-last]}" "$cutoff")
  # Another run (a pre-deploy --once) may be writing right now: only day-old partials go.
  while IFS= read -r -d '' file; do
    rm -f -- "$file"
    printf 'pruned: %s\n' "$file"
  done < <(find "$dir" -maxdepth 1 -type f -name "$db-????????T??????Z.dump*.partial" -mmin +1440 -print0)
}

main() {
  exec </dev/null
  umask 077
  parse_flags "host port db user password-file dir interval-seconds retention-days keep-last metrics-dir once!" "$@"
  require_values host port db user password-file dir interval-seconds retention-days keep-last
  check_host host
  check_port port
  [[ "${OPT[db]}" =~ ^[a-z_][a-z0-9_]{0,62}$ ]] || bad_arg "--db '${OPT[db]}' must be a lowercase identifier"
  [[ "${OPT[user]}" =~ ^[a-z_][a-z0-9_]{0,62}$ ]] || bad_arg "--user '${OPT[user]}' must be a lowercase identifier"
  [[ "${OPT[dir]}" == /* ]] || bad_arg "--dir '${OPT[dir]}' must be an absolute path"
  check_count interval-seconds
  check_count retention-days
  check_count keep-last
  if [ -n "${OPT[metrics-dir]:-}" ]; then
    [[ "${OPT[metrics-dir]}" == /* ]] || bad_arg "--metrics-dir '${OPT[metrics-dir]}' must be an absolute path"
    [ -d "${OPT[metrics-dir]}" ] || die "--metrics-dir '${OPT[metrics-dir]}' does not exist; mount node-exporter's textfile directory there"
  fi
  check_secret password-file
  # pg_dump must not be older than the server: take the image's own client binaries.
  PG_DUMP="$(find_pg_tool pg_dump)" \
    || die "pg_dump not found (pg_config --bindir, /usr/lib/postgresql/15/bin, PATH); use the postgres image"
  PG_ISREADY="$(find_pg_tool pg_isready)" \
    || die "pg_isready not found (pg_config --bindir, /usr/lib/postgresql/15/bin, PATH); use the postgres image"

  if [ ! -d "${OPT[dir]}" ]; then
    mkdir -p -- "${OPT[dir]}" || die "cannot create --dir '${OPT[dir]}'; mount the backup volume there"
    chmod 0700 -- "${OPT[dir]}"
  fi
  [ -w "${OPT[dir]}" ] || die "--dir '${OPT[dir]}' is not writable; mount the backup volume read-write"
  WORK_DIR="$(mktemp -d "${TMPDIR:-/tmp}/medianest-pg-dump.XXXXXX")"
  trap cleanup EXIT
  trap on_loop_signal TERM INT
  run_rounds backup_round
}

main "$@"
