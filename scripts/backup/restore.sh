#!/usr/bin/env bash
# backup/restore.sh: restore a pg-dump.sh backup into a database (run by an operator).
#
# Usage:
#   restore.sh --file DUMP --host HOST --port N --db NAME --user NAME --password-file FILE [--yes]
#
# 1. Checks DUMP against DUMP.sha256 (written by pg-dump.sh) and refuses a missing or
#    mismatching checksum: a damaged dump is never fed to pg_restore.
# 2. Without --yes it only prints what it would do and exits 1.
# 3. Runs pg_restore --clean --if-exists --no-owner --role=USER in a single transaction
#    (all or nothing), so the objects in the dump replace the database's current ones,
#    owned by USER. Prints `restored: <file> into <db>`.
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
usage: restore.sh --file DUMP --host HOST --port N --db NAME --user NAME --password-file FILE [--yes]
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

cleanup() {
  if [ -n "$WORK_DIR" ]; then rm -rf -- "$WORK_DIR"; fi
}

main() {
  exec </dev/null
  umask 077
  parse_flags "file host port db user password-file yes!" "$@"
  require_values file host port db user password-file
  check_host host
  check_port port
  [[ "${OPT[db]}" =~ ^[a-z_][a-z0-9_]{0,62}$ ]] || bad_arg "--db '${OPT[db]}' must be a lowercase identifier"
  [[ "${OPT[user]}" =~ ^[a-z_][a-z0-9_]{0,62}$ ]] || bad_arg "--user '${OPT[user]}' must be a lowercase identifier"
  [ -f "${OPT[file]}" ] || bad_arg "--file '${OPT[file]}' is not a file"
  local password pg_restore file="${OPT[file]}"
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
  printf 'restored: %s into %s\n' "$file" "${OPT[db]}"
}

main "$@"
