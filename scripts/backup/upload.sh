#!/usr/bin/env bash
# backup/upload.sh: copies the backup files to object storage (runs in the quay.io/minio/mc
# image, whose entrypoint is `mc`: the service must set the entrypoint to bash).
#
# Usage:
#   upload.sh --dir DIR --endpoint URL --bucket BUCKET --prefix PREFIX
#       --access-key-file FILE --secret-key-file FILE
#       [--offsite-endpoint URL --offsite-bucket BUCKET
#        --offsite-access-key-file FILE --offsite-secret-key-file FILE]
#       --interval-seconds N [--once]
#
# Each round runs `mc mirror --overwrite` from DIR to BUCKET/PREFIX/ (and to the same
# PREFIX in the off-site bucket when the four --offsite-* flags are given). Only *.dump and
# *.dump.sha256 files go up: everything else in DIR (pg-dump.sh's .partial files, stray
# files and directories) is excluded by name. Nothing is ever deleted remotely; the
# buckets' lifecycle rules decide how long copies are kept. Prints one line per target:
#   uploaded: <n> files (<bytes> bytes) from DIR to <alias>/BUCKET/PREFIX/
# The keys are read from files and handed to mc as MC_HOST_<alias> in this process's
# environment only (never argv, never printed); mc's config lives in a private temp dir.
# --once does one round and exits 0; otherwise it sleeps --interval-seconds and repeats.
# A failed round exits non-zero so Swarm restarts the service.
# Exit status: 2 for bad arguments, 1 for a failed round, 143 when stopped by SIGTERM.
set -euo pipefail

# shellcheck source-path=SCRIPTDIR source=../lib/container-lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/../lib/container-lib.sh"

readonly SCRIPT=upload

MC=""
WORK_DIR=""

usage() {
  cat >&2 <<'EOF'
usage: upload.sh --dir DIR --endpoint URL --bucket BUCKET --prefix PREFIX
           --access-key-file FILE --secret-key-file FILE
           [--offsite-endpoint URL --offsite-bucket BUCKET
            --offsite-access-key-file FILE --offsite-secret-key-file FILE]
           --interval-seconds N [--once]
EOF
  exit 2
}

check_endpoint() {
  [[ "${OPT[$1]}" =~ ^https?://([A-Za-z0-9_.-]+|\[[0-9A-Fa-f:]+\])(:[0-9]{1,5})?/?$ ]] \
    || bad_arg "--$1 '${OPT[$1]}' must be http(s)://host[:port] with no path"
}

check_bucket() {
  [[ "${OPT[$1]}" =~ ^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$ ]] \
    || bad_arg "--$1 '${OPT[$1]}' is not a valid bucket name (3-63 of a-z 0-9 . -)"
}

# Fail on a missing or malformed key file before the first round, not in the middle of one.
check_key() {
  local value
  read_secret_file "$1" value
}

# Percent-encode everything but RFC 3986 unreserved characters, byte by byte, so any key
# survives inside the URL's userinfo.
url_encode() {
  local LC_ALL=C value="$1" out="" char i
  for ((i = 0; i < ${#value}; i++)); do
    char="${value:i:1}"
    case "$char" in
      [A-Za-z0-9._~-]) out+="$char" ;;
      *) printf -v char '%%%02X' "'$char" && out+="${char: -3}" ;;
    esac
  done
  printf '%s' "$out"
}

# export_alias ALIAS ENDPOINT_FLAG ACCESS_FLAG SECRET_FLAG: MC_HOST_<alias> for mc, rebuilt
# every round so rotated keys are picked up. Exported into this process only.
export_alias() {
  local alias="$1" endpoint="${OPT[$2]}" access secret scheme rest
  read_secret_file "$3" access
  read_secret_file "$4" secret
  scheme="${endpoint%%://*}"
  rest="${endpoint#*://}"
  rest="${rest%/}"
  export "MC_HOST_$alias=$scheme://$(url_encode "$access"):$(url_encode "$secret")@$rest"
}

cleanup() {
  if [ -n "$WORK_DIR" ]; then rm -rf -- "$WORK_DIR"; fi
}

# mirror ALIAS BUCKET: one mc mirror of DIR, with every non-backup entry excluded.
mirror() {
  local alias="$1" bucket="$2" dir="${OPT[dir]}" prefix="${OPT[prefix]}" entry name target
  local count=0 bytes=0 size
  local -a excludes=(--exclude "*.partial")
  shopt -s nullglob dotglob
  local -a entries=("$dir"/*)
  shopt -u nullglob dotglob
  for entry in "${entries[@]}"; do
    name="${entry##*/}"
    if [ -f "$entry" ] && [ ! -L "$entry" ] && [[ "$name" == *.dump || "$name" == *.dump.sha256 ]]; then
      size="$(stat -c %s -- "$entry")"
      count=$((count + 1))
      bytes=$((bytes + size))
    elif [ -d "$entry" ]; then
      excludes+=(--exclude "$name/*")
    else
      excludes+=(--exclude "$name")
    fi
  done
  target="$alias/$bucket/${prefix:+$prefix/}"
  if [ "$count" = 0 ]; then
    printf 'uploaded: 0 files from %s to %s (nothing to upload)\n' "$dir" "$target"
    return 0
  fi
  if ! run_child "$MC" --config-dir "$WORK_DIR/mc" --quiet --no-color mirror --overwrite "${excludes[@]}" "$dir/" "$target"; then
    printf 'error: mc mirror from %s to %s failed; check the endpoint, the bucket and the keys\n' "$dir" "$target" >&2
    return 1
  fi
  printf 'uploaded: %s files (%s bytes) from %s to %s\n' "$count" "$bytes" "$dir" "$target"
}

upload_round() {
  export_alias medianest endpoint access-key-file secret-key-file
  mirror medianest "${OPT[bucket]}" || return 1
  if [ -n "${OPT[offsite-endpoint]:-}" ]; then
    export_alias offsite offsite-endpoint offsite-access-key-file offsite-secret-key-file
    mirror offsite "${OPT[offsite-bucket]}" || return 1
  fi
}

main() {
  exec </dev/null
  umask 077
  parse_flags "dir endpoint bucket prefix access-key-file secret-key-file offsite-endpoint offsite-bucket offsite-access-key-file offsite-secret-key-file interval-seconds once!" "$@"
  require_values dir endpoint bucket access-key-file secret-key-file interval-seconds
  [ -n "${OPT[prefix]+set}" ] || bad_arg "--prefix is required (\"\" for the bucket root)"
  [[ "${OPT[dir]}" == /* ]] || bad_arg "--dir '${OPT[dir]}' must be an absolute path"
  check_endpoint endpoint
  check_bucket bucket
  OPT[prefix]="${OPT[prefix]#/}"
  OPT[prefix]="${OPT[prefix]%/}"
  [[ "${OPT[prefix]}" =~ ^[A-Za-z0-9._/-]*$ && "/${OPT[prefix]}/" != */../* && "/${OPT[prefix]}/" != *//* ]] \
    || bad_arg "--prefix '${OPT[prefix]}' must be letters, digits and ._-/ without empty or .. parts"
  local given=0 name
  for name in offsite-endpoint offsite-bucket offsite-access-key-file offsite-secret-key-file; do
    if [ -n "${OPT[$name]:-}" ]; then given=$((given + 1)); fi
  done
  case "$given" in
    0) ;;
    4) check_endpoint offsite-endpoint; check_bucket offsite-bucket ;;
    *) bad_arg "give all four --offsite-* flags or none" ;;
  esac
  check_count interval-seconds
  check_key access-key-file
  check_key secret-key-file
  if [ "$given" = 4 ]; then
    check_key offsite-access-key-file
    check_key offsite-secret-key-file
  fi
  MC="$(command -v mc 2>/dev/null || true)"
  if [ -z "$MC" ] && [ -x /usr/bin/mc ]; then MC=/usr/bin/mc; fi
  [ -n "$MC" ] || die "mc not found; run this in the quay.io/minio/mc image"
  [ -d "${OPT[dir]}" ] || die "--dir '${OPT[dir]}' does not exist; mount the backup volume there"

  WORK_DIR="$(mktemp -d "${TMPDIR:-/tmp}/medianest-upload.XXXXXX")"
  mkdir -m 0700 "$WORK_DIR/mc"
  trap cleanup EXIT
  trap on_loop_signal TERM INT
  run_rounds upload_round
}

main "$@"
