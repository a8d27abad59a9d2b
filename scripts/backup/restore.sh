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
# Self-contained on purpose: operators pipe this one file into `docker exec -i ... bash -s`,
# so it keeps its own copies of helpers that the other scripts take from lib/container-lib.sh.
# Exit status: 2 for bad arguments, 1 for a refusal or a failed restore.
set -euo pipefail

declare -A OPT=()
YES=0
WORK_DIR=""

die() {
  printf 'error: %s\n' "$*" >&2
  exit 1
}

usage() {
  cat >&2 <<'EOF'
usage: restore.sh --file DUMP --host HOST --port N --db NAME --user NAME --password-file FILE [--yes]
EOF
  exit 2
}

bad_arg() {
  printf 'error: %s\n' "$*" >&2
  usage
}

# parse_flags "allowed names" ARGS...: --name value pairs into OPT, plus the bare --yes.
parse_flags() {
  local allowed=" $1 " name
  shift
  while [ "$#" -gt 0 ]; do
    case "$1" in
      --yes) YES=1; shift; continue ;;
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
    [ -n "${OPT[$name]:-}" ] || bad_arg "--$name is required"
  done
}

# read_secret FLAG VAR: the password in the file named by --FLAG, trailing newlines removed.
read_secret() {
  local flag="$1" file="${OPT[$1]}" value
  [ -f "$file" ] || bad_arg "--$flag '$file' is not a file"
  [ -r "$file" ] || bad_arg "--$flag '$file' is not readable; run as root or as the file's owner"
  value="$(<"$file")"
  [ -n "$value" ] || bad_arg "--$flag '$file' is empty"
  [[ "$value" != *$'\n'* && "$value" != *$'\r'* ]] \
    || bad_arg "--$flag '$file' holds more than one line; store the password alone on one line"
  printf -v "$2" '%s' "$value"
}

find_pg_tool() {
  local dir candidate
  if command -v pg_config >/dev/null 2>&1; then
    dir="$(pg_config --bindir 2>/dev/null || true)"
    if [ -n "$dir" ] && [ -x "$dir/$1" ]; then printf '%s' "$dir/$1"; return 0; fi
  fi
  if [ -x "/usr/lib/postgresql/15/bin/$1" ]; then printf '%s' "/usr/lib/postgresql/15/bin/$1"; return 0; fi
  candidate="$(command -v "$1" 2>/dev/null || true)"
  if [ -n "$candidate" ]; then printf '%s' "$candidate"; return 0; fi
  die "$1 not found (pg_config --bindir, /usr/lib/postgresql/15/bin, PATH); run this in the postgres image"
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
  [ "$#" -ge 1 ] || usage
  case "$1" in -h | --help) usage ;; esac
  parse_flags "file host port db user password-file" "$@"
  require_flags file host port db user password-file
  [[ "${OPT[host]}" =~ ^[A-Za-z0-9_]([A-Za-z0-9_.-]{0,251}[A-Za-z0-9_])?$ ]] \
    || bad_arg "--host '${OPT[host]}' is not a host name or IPv4 address"
  if ! [[ "${OPT[port]}" =~ ^[0-9]{1,5}$ ]] || ((10#${OPT[port]} < 1 || 10#${OPT[port]} > 65535)); then
    bad_arg "--port '${OPT[port]}' is not a TCP port (1-65535)"
  fi
  [[ "${OPT[db]}" =~ ^[a-z_][a-z0-9_]{0,62}$ ]] || bad_arg "--db '${OPT[db]}' must be a lowercase identifier"
  [[ "${OPT[user]}" =~ ^[a-z_][a-z0-9_]{0,62}$ ]] || bad_arg "--user '${OPT[user]}' must be a lowercase identifier"
  [ -f "${OPT[file]}" ] || bad_arg "--file '${OPT[file]}' is not a file"
  local password pg_restore file="${OPT[file]}"
  read_secret password-file password
  pg_restore="$(find_pg_tool pg_restore)"

  verify_checksum "$file"
  local plan="pg_restore --clean --if-exists --no-owner --role=${OPT[user]} --single-transaction -h ${OPT[host]} -p ${OPT[port]} -U ${OPT[user]} -d ${OPT[db]} $file"
  if [ "$YES" != 1 ]; then
    printf 'would restore: %s into database %s on %s:%s, replacing the objects it contains\n' "$file" "${OPT[db]}" "${OPT[host]}" "${OPT[port]}"
    printf 'would run: %s\n' "$plan"
    die "refusing to restore without --yes; re-run with --yes to overwrite database ${OPT[db]}"
  fi

  WORK_DIR="$(mktemp -d "${TMPDIR:-/tmp}/medianest-restore.XXXXXX")"
  trap cleanup EXIT
  password="${password//\\/\\\\}"
  password="${password//:/\\:}"
  printf '*:*:*:%s:%s\n' "${OPT[user]}" "$password" >"$WORK_DIR/pgpass"
  password=""
  printf 'restoring: %s into %s on %s:%s\n' "$file" "${OPT[db]}" "${OPT[host]}" "${OPT[port]}"
  PGPASSFILE="$WORK_DIR/pgpass" "$pg_restore" -w --clean --if-exists --no-owner --role="${OPT[user]}" \
    --single-transaction -h "${OPT[host]}" -p "${OPT[port]}" -U "${OPT[user]}" -d "${OPT[db]}" -- "$file" \
    || die "pg_restore failed and rolled back (the database is unchanged); see its message above"
  printf 'restored: %s into %s\n' "$file" "${OPT[db]}"
}

main "$@"
