#!/usr/bin/env bash
# backup/restore.sh: restore a pg-dump.sh backup into a database (run by an operator).
#
# Usage:
#   restore.sh --file DUMP --host HOST --port N --db NAME --user NAME --password-file FILE [--yes] [--hashes]
#   restore.sh --file DUMP --scratch [--db NAME --user NAME] [--scratch-dir DIR] [--hashes]
#
# 1. Checks DUMP against DUMP.sha256 (written by pg-dump.sh) and refuses a missing or
#    mismatching checksum: a damaged dump is never fed to pg_restore.
# 2. Without --yes it only prints what it would do and exits 1.
# 3. Runs pg_restore --clean --if-exists --no-owner --role=USER in a single transaction
#    (all or nothing), so the objects in the dump replace the database's current ones,
#    owned by USER. Prints `restored: <file> into <db>`.
# --scratch restores into a fresh database instead (a restore drill that touches nothing
# live): a throwaway PostgreSQL server of this image's version, initialised in a private
# directory below --scratch-dir (default $TMPDIR), listening on a Unix socket only, run as
# the image's postgres user; it is stopped and removed at exit. No --yes needed.
# --hashes then prints, per table of the restored database, `hash: <schema.table> <rows>
# <md5>`: the md5 of its rows as text in sorted order, to compare with the source.
# Run it where the database is reachable, e.g. in the postgres image with the backup
# volume and the password secret mounted. The password goes to pg_restore in a private
# 0600 passfile (PGPASSFILE), never on a command line.
# Delivered into the postgres-backup task as /run/medianest/restore.sh (lib/container-lib.sh
# bundled in), so operators run the version that matches the deployment.
# Exit status: 2 for bad arguments, 1 for a refusal or a failed restore.
set -euo pipefail

# shellcheck source-path=SCRIPTDIR source=../lib/container-lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/../lib/container-lib.sh"

readonly SCRIPT=restore
WORK_DIR=""

usage() {
  cat >&2 <<'EOF'
usage: restore.sh --file DUMP --host HOST --port N --db NAME --user NAME --password-file FILE [--yes] [--hashes]
       restore.sh --file DUMP --scratch [--db NAME --user NAME] [--scratch-dir DIR] [--hashes]
EOF
  exit 2
}

# The recorded hash is the first field of DUMP.sha256; the file name in it is ignored, so a
# dump copied or renamed together with its .sha256 still verifies.
verify_checksum() {
  local file="$1" expected actual
  [ -f "$file.sha256" ] || die "$file.sha256 is missing; without a checksum the dump cannot be trusted (restore its pair from the bucket)"
  read -r expected _ <"$file.sha256" || true
  [[ "$expected" =~ ^[0-9a-f]{64}$ ]] || die "$file.sha256 holds no sha256 checksum; fetch an intact copy"
  actual="$(sha256sum -- "$file")"
  actual="${actual%% *}"
  [ "$actual" = "$expected" ] \
    || die "sha256 mismatch for $file (expected $expected, got $actual); the dump is damaged: fetch an intact copy from the bucket"
}

SCRATCH=""
PG_CTL=""

cleanup() {
  if [ -n "$SCRATCH" ]; then
    as_postgres "$PG_CTL" -D "$SCRATCH/data" -m immediate -w stop >/dev/null 2>&1 || true
    rm -rf -- "$SCRATCH"
  fi
  if [ -n "$WORK_DIR" ]; then rm -rf -- "$WORK_DIR"; fi
}

# PostgreSQL refuses to run as root: the scratch server runs as the image's postgres user.
as_postgres() {
  if [ "$(id -un)" = postgres ]; then
    "$@"
  elif command -v setpriv >/dev/null 2>&1; then
    setpriv --reuid=postgres --regid=postgres --init-groups -- "$@"
  else
    runuser -u postgres -- "$@"
  fi
}

# print_hashes PSQL_ARGS...: `hash: <table> <rows> <md5 of its rows as text, sorted>` per
# user table; a table's hash does not depend on its physical order.
print_hashes() {
  local psql table line
  psql="$(find_pg_tool psql)" || die "psql not found; use the postgres image"
  local -a tables=()
  mapfile -t tables < <("$psql" -X -At -v ON_ERROR_STOP=1 "$@" -c "SELECT format('%I.%I', schemaname, tablename) FROM pg_tables WHERE schemaname NOT IN ('pg_catalog', 'information_schema') ORDER BY 1")
  for table in "${tables[@]}"; do
    line="$("$psql" -X -At -v ON_ERROR_STOP=1 "$@" -c "SELECT count(*) || ' ' || coalesce(md5(string_agg(r::text, E'\\n' ORDER BY r::text)), 'empty') FROM $table r")"
    printf 'hash: %s %s\n' "$table" "$line"
  done
}

scratch_restore() {
  local file="$1" db="$2" user="$3" initdb pg_restore psql started=$SECONDS
  initdb="$(find_pg_tool initdb)" || die "initdb not found; run --scratch in the postgres image"
  PG_CTL="$(find_pg_tool pg_ctl)" || die "pg_ctl not found; run --scratch in the postgres image"
  pg_restore="$(find_pg_tool pg_restore)" || die "pg_restore not found; use the postgres image"
  psql="$(find_pg_tool psql)" || die "psql not found; use the postgres image"
  id postgres >/dev/null 2>&1 || die "this image has no postgres user to run the scratch server as"
  SCRATCH="$(mktemp -d "${OPT[scratch-dir]:-${TMPDIR:-/tmp}}/medianest-restore-drill.XXXXXX")"
  chown postgres: "$SCRATCH"
  as_postgres "$initdb" -D "$SCRATCH/data" -U postgres --auth=trust --encoding=UTF8 --locale=C --no-instructions >/dev/null \
    || die "initdb of the scratch server in $SCRATCH failed"
  as_postgres "$PG_CTL" -D "$SCRATCH/data" -l "$SCRATCH/server.log" -w -t 300 \
    -o "-c listen_addresses='' -c unix_socket_directories='$SCRATCH' -p 5432" start >/dev/null \
    || die "the scratch server did not start: $(tail -n 5 "$SCRATCH/server.log" 2>/dev/null)"
  local -a conn=(-h "$SCRATCH" -p 5432)
  "$psql" -X -q -v ON_ERROR_STOP=1 "${conn[@]}" -U postgres -d postgres \
    -c "CREATE ROLE \"$user\" LOGIN" -c "CREATE DATABASE \"$db\" OWNER \"$user\"" \
    || die "could not create role $user and database $db on the scratch server"
  printf 'restoring: %s into a fresh database %s (scratch server in %s)\n' "$file" "$db" "$SCRATCH"
  "$pg_restore" -w --no-owner --role="$user" --single-transaction "${conn[@]}" -U "$user" -d "$db" -- "$file" \
    || die "pg_restore into the fresh database failed; the dump does not restore (see its message above)"
  printf 'restored: %s into a fresh database %s in %s s\n' "$file" "$db" "$((SECONDS - started))"
  if [ -n "${OPT[hashes]:-}" ]; then print_hashes "${conn[@]}" -U "$user" -d "$db"; fi
}

main() {
  exec </dev/null
  umask 077
  parse_flags "file host port db user password-file yes! scratch! scratch-dir hashes!" "$@"
  require_values file
  [ -f "${OPT[file]}" ] || bad_arg "--file '${OPT[file]}' is not a file"
  local file="${OPT[file]}"
  if [ -n "${OPT[scratch]:-}" ]; then
    local db="${OPT[db]:-medianest}" user="${OPT[user]:-medianest}"
    [[ "$db" =~ ^[a-z_][a-z0-9_]{0,62}$ ]] || bad_arg "--db '$db' must be a lowercase identifier"
    [[ "$user" =~ ^[a-z_][a-z0-9_]{0,62}$ ]] || bad_arg "--user '$user' must be a lowercase identifier"
    if [ -n "${OPT[scratch-dir]:-}" ] && [[ "${OPT[scratch-dir]}" != /* ]]; then bad_arg "--scratch-dir '${OPT[scratch-dir]}' must be an absolute path"; fi
    verify_checksum "$file"
    trap cleanup EXIT
    scratch_restore "$file" "$db" "$user"
    return 0
  fi
  require_values host port db user password-file
  check_host host
  check_port port
  [[ "${OPT[db]}" =~ ^[a-z_][a-z0-9_]{0,62}$ ]] || bad_arg "--db '${OPT[db]}' must be a lowercase identifier"
  [[ "${OPT[user]}" =~ ^[a-z_][a-z0-9_]{0,62}$ ]] || bad_arg "--user '${OPT[user]}' must be a lowercase identifier"
  local password pg_restore started=$SECONDS
  read_secret_file password-file password
  pg_restore="$(find_pg_tool pg_restore)"

  verify_checksum "$file"
  local plan="pg_restore --clean --if-exists --no-owner --role=${OPT[user]} --single-transaction -h ${OPT[host]} -p ${OPT[port]} -U ${OPT[user]} -d ${OPT[db]} $file"
  if [ -z "${OPT[yes]:-}" ]; then
    printf 'would restore: %s into database %s on %s:%s, replacing the objects it contains\n' "$file" "${OPT[db]}" "${OPT[host]}" "${OPT[port]}"
    printf 'would run: %s\n' "$plan"
    die "refusing to restore without --yes; re-run with --yes to overwrite database ${OPT[db]}"
  fi

  WORK_DIR="$(mktemp -d "${TMPDIR:-/tmp}/medianest-restore.XXXXXX")"
  trap cleanup EXIT
  pgpass_line "${OPT[user]}" "$password" >"$WORK_DIR/pgpass"
  password=""
  printf 'restoring: %s into %s on %s:%s\n' "$file" "${OPT[db]}" "${OPT[host]}" "${OPT[port]}"
  PGPASSFILE="$WORK_DIR/pgpass" "$pg_restore" -w --clean --if-exists --no-owner --role="${OPT[user]}" \
    --single-transaction -h "${OPT[host]}" -p "${OPT[port]}" -U "${OPT[user]}" -d "${OPT[db]}" -- "$file" \
    || die "pg_restore failed and rolled back (the database is unchanged); see its message above"
  printf 'restored: %s into %s in %s s\n' "$file" "${OPT[db]}" "$((SECONDS - started))"
  if [ -n "${OPT[hashes]:-}" ]; then
    PGPASSFILE="$WORK_DIR/pgpass" print_hashes -w -h "${OPT[host]}" -p "${OPT[port]}" -U "${OPT[user]}" -d "${OPT[db]}"
  fi
}

main "$@"
