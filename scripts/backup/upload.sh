#!/usr/bin/env bash
# backup/upload.sh: copies the backup files to object storage (runs in the quay.io/minio/mc
# image, whose entrypoint is `mc`: the service must set the entrypoint to bash).
#
# Usage:
#   upload.sh --dir DIR --db NAME --endpoint URL --bucket BUCKET --prefix PREFIX
#       --access-key-file FILE --secret-key-file FILE
#       [--offsite-endpoint URL --offsite-bucket BUCKET
#        --offsite-access-key-file FILE --offsite-secret-key-file FILE]
#       --retention-days N --keep-last N --poll-seconds N [--metrics-dir DIR] [--once]
#
# It watches DIR: every --poll-seconds it looks at the complete dumps there (a .dump with its
# .dump.sha256, as pg-dump.sh leaves them), and as soon as that set differs from the one
# last uploaded (a new dump, also a pre-deploy one) it runs a round, so an off-host copy is
# never more than about a poll behind the newest local dump. It also runs one at start.
# A round runs `mc mirror --overwrite` from DIR to BUCKET/PREFIX/ (and to the same PREFIX in
# the off-site bucket when the four --offsite-* flags are given). Only complete pairs go
# up: everything else in DIR (pg-dump.sh's .partial files, a dump whose checksum is not
# written yet, stray files and directories) is excluded by name. Prints per target:
#   uploaded: <n> files (<bytes> bytes) from DIR to <alias>/BUCKET/PREFIX/
# Then it prunes that target by the same rule as pg-dump.sh prunes DIR (retention_victims,
# lib/container-lib.sh): objects of --db older than --retention-days go, except the
# --keep-last newest good dumps, whatever their age. In a versioned bucket a removal is a
# delete marker; the bucket's lifecycle expires the hidden version later. A failed prune is
# a warning (the copy is up). mc deletes nothing else: no `mirror --remove`, so an emptied
# DIR never empties a bucket.
# With --metrics-dir it writes DIR/medianest_backup_upload_NAME.prom for node-exporter's
# textfile collector after each round: per target (medianest, offsite),
# medianest_backup_offsite_newest_dump_timestamp_seconds (when the newest dump now in that
# bucket was written) and medianest_backup_upload_last_success_timestamp_seconds; after a
# round that failed to reach a target it writes DIR/medianest_backup_upload_failure_NAME.prom
# with medianest_backup_upload_last_failure_timestamp_seconds for that target, before it
# exits. A failure newer than the last success is what BackupUploadFailing alerts on.
# The keys are read from files and handed to mc as MC_HOST_<alias> in this process's
# environment only (never argv, never printed); mc's config lives in a private temp dir.
# --once does one round and exits 0. A failed round exits non-zero so Swarm restarts the
# service (the restarted task uploads at once).
# Exit status: 2 for bad arguments, 1 for a failed round, 143 when stopped by SIGTERM.
set -euo pipefail

# shellcheck source-path=SCRIPTDIR source=../lib/container-lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/../lib/container-lib.sh"

readonly SCRIPT=upload

MC=""
WORK_DIR=""
# Per target alias: the newest dump's mtime, the time of the last successful round, and the
# time of the last failed one.
declare -A NEWEST=() UPLOADED=() FAILED=()

usage() {
  cat >&2 <<'EOF'
usage: upload.sh --dir DIR --db NAME --endpoint URL --bucket BUCKET --prefix PREFIX
           --access-key-file FILE --secret-key-file FILE
           [--offsite-endpoint URL --offsite-bucket BUCKET
            --offsite-access-key-file FILE --offsite-secret-key-file FILE]
           --retention-days N --keep-last N --poll-seconds N [--metrics-dir DIR] [--once]
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

# is_backup_name NAME: one of --db's dump or checksum names, as pg-dump.sh writes them.
is_backup_name() {
  [[ "$1" =~ ^${OPT[db]}-[0-9]{8}T[0-9]{6}Z\.dump(\.sha256)?$ ]]
}

# complete_pairs: the complete dumps in DIR (a regular .dump with its .dump.sha256), one
# "NAME SIZE MTIME" line each, in name order; the watch loop compares these lines.
complete_pairs() {
  local entry
  shopt -s nullglob
  local -a files=("${OPT[dir]}"/*.dump)
  shopt -u nullglob
  for entry in "${files[@]}"; do
    if [ -f "$entry" ] && [ ! -L "$entry" ] && [ -f "$entry.sha256" ] && [ ! -L "$entry.sha256" ]; then
      printf '%s %s\n' "${entry##*/}" "$(stat -c '%s %Y' -- "$entry")"
    fi
  done
}

# mirror ALIAS BUCKET: one mc mirror of DIR, with every entry but complete pairs excluded.
mirror() {
  local alias="$1" bucket="$2" dir="${OPT[dir]}" prefix="${OPT[prefix]}" entry name target
  local count=0 bytes=0 size newest=0 mtime
  local -a excludes=(--exclude "*.partial")
  shopt -s nullglob dotglob
  local -a entries=("$dir"/*)
  shopt -u nullglob dotglob
  for entry in "${entries[@]}"; do
    name="${entry##*/}"
    if [ -f "$entry" ] && [ ! -L "$entry" ] && { [[ "$name" == *.dump && -f "$entry.sha256" ]] || [[ "$name" == *.dump.sha256 && -f "${entry%.sha256}" ]]; }; then
      size="$(stat -c %s -- "$entry")"
      count=$((count + 1))
      bytes=$((bytes + size))
      if [[ "$name" == *.dump ]]; then
        mtime="$(stat -c %Y -- "$entry")"
        if ((mtime > newest)); then newest=$mtime; fi
      fi
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
  NEWEST[$alias]="$newest"
  UPLOADED[$alias]="$(now_epoch)"
}

# prune_remote ALIAS BUCKET: retention in the bucket, by the same rule as on disk.
prune_remote() {
  local alias="$1" bucket="$2" prefix="${OPT[prefix]}" target listing line name cutoff
  local -a names=()
  target="$alias/$bucket/${prefix:+$prefix/}"
  # mc ls --json prints one JSON object per entry, indented over several lines
  # (cmd/ls.go contentMessage.JSON, json.MarshalIndent): the "key" lines are the names,
  # relative to the listed prefix. Without --versions it lists current objects only.
  if ! listing="$("$MC" --config-dir "$WORK_DIR/mc" --quiet --no-color ls --json "$target")"; then
    printf 'warning: could not list %s to prune it; nothing was removed there\n' "$target" >&2
    return 0
  fi
  while IFS= read -r line; do
    [[ "$line" =~ \"key\":\ *\"([^\"]*)\" ]] || continue
    name="${BASH_REMATCH[1]}"
    if is_backup_name "$name"; then names+=("$name"); fi
  done <<<"$listing"
  [ "${#names[@]}" -gt 0 ] || return 0
  cutoff="$(utc_stamp "$(($(now_epoch) - OPT[retention-days] * 86400))")"
  while IFS= read -r name; do
    if "$MC" --config-dir "$WORK_DIR/mc" --quiet --no-color rm "$target$name" >/dev/null; then
      printf 'pruned: %s%s\n' "$target" "$name"
    else
      printf 'warning: could not remove %s%s; it stays until the next round\n' "$target" "$name" >&2
    fi
  done < <(printf '%s\n' "${names[@]}" | retention_victims "${OPT[keep-last]}" "$cutoff")
}

upload_metrics() {
  local db="${OPT[db]}" alias
  {
    printf '# HELP medianest_backup_offsite_newest_dump_timestamp_seconds When the newest dump uploaded to the target was written.\n'
    printf '# TYPE medianest_backup_offsite_newest_dump_timestamp_seconds gauge\n'
    for alias in "${!NEWEST[@]}"; do
      printf 'medianest_backup_offsite_newest_dump_timestamp_seconds{database="%s",target="%s"} %s\n' "$db" "$alias" "${NEWEST[$alias]}"
    done
    printf '# HELP medianest_backup_upload_last_success_timestamp_seconds When an upload round last reached the target.\n'
    printf '# TYPE medianest_backup_upload_last_success_timestamp_seconds gauge\n'
    for alias in "${!UPLOADED[@]}"; do
      printf 'medianest_backup_upload_last_success_timestamp_seconds{database="%s",target="%s"} %s\n' "$db" "$alias" "${UPLOADED[$alias]}"
    done
  } | write_metrics "${OPT[metrics-dir]}/medianest_backup_upload_$db.prom"
}

# upload_failed ALIAS: record a round that could not copy to ALIAS. A file of its own: the
# success file keeps the last good round's times, which a restarted task does not know.
upload_failed() {
  local db="${OPT[db]}" alias
  FAILED[$1]="$(now_epoch)"
  [ -n "${OPT[metrics-dir]:-}" ] || return 0
  {
    printf '# HELP medianest_backup_upload_last_failure_timestamp_seconds When an upload round last failed to reach the target.\n'
    printf '# TYPE medianest_backup_upload_last_failure_timestamp_seconds gauge\n'
    for alias in "${!FAILED[@]}"; do
      printf 'medianest_backup_upload_last_failure_timestamp_seconds{database="%s",target="%s"} %s\n' "$db" "$alias" "${FAILED[$alias]}"
    done
  } | write_metrics "${OPT[metrics-dir]}/medianest_backup_upload_failure_$db.prom"
}

upload_round() {
  export_alias medianest endpoint access-key-file secret-key-file
  if ! mirror medianest "${OPT[bucket]}"; then
    upload_failed medianest
    return 1
  fi
  prune_remote medianest "${OPT[bucket]}"
  if [ -n "${OPT[offsite-endpoint]:-}" ]; then
    export_alias offsite offsite-endpoint offsite-access-key-file offsite-secret-key-file
    if ! mirror offsite "${OPT[offsite-bucket]}"; then
      upload_failed offsite
      return 1
    fi
    prune_remote offsite "${OPT[offsite-bucket]}"
  fi
  if [ -n "${OPT[metrics-dir]:-}" ]; then upload_metrics; fi
}

# A round at start, then one whenever the set of complete dumps changes.
watch_rounds() {
  local seen="" now_seen first=1
  if [ "${OPT[once]:-}" = 1 ]; then
    upload_round || exit 1
    exit 0
  fi
  while :; do
    now_seen="$(complete_pairs)"
    if [ "$first" = 1 ] || [ "$now_seen" != "$seen" ]; then
      upload_round || exit 1
      seen="$now_seen"
      first=0
    fi
    run_child sleep "${OPT[poll-seconds]}"
  done
}

main() {
  exec </dev/null
  umask 077
  parse_flags "dir db endpoint bucket prefix access-key-file secret-key-file offsite-endpoint offsite-bucket offsite-access-key-file offsite-secret-key-file retention-days keep-last poll-seconds metrics-dir once!" "$@"
  require_values dir db endpoint bucket access-key-file secret-key-file retention-days keep-last poll-seconds
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
  [[ "${OPT[db]}" =~ ^[a-z_][a-z0-9_]{0,62}$ ]] || bad_arg "--db '${OPT[db]}' must be a lowercase identifier"
  check_count retention-days
  check_count keep-last
  check_count poll-seconds
  if [ -n "${OPT[metrics-dir]:-}" ]; then
    [[ "${OPT[metrics-dir]}" == /* ]] || bad_arg "--metrics-dir '${OPT[metrics-dir]}' must be an absolute path"
  fi
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
  if [ -n "${OPT[metrics-dir]:-}" ] && [ ! -d "${OPT[metrics-dir]}" ]; then
    die "--metrics-dir '${OPT[metrics-dir]}' does not exist; mount node-exporter's textfile directory there"
  fi

  WORK_DIR="$(mktemp -d "${TMPDIR:-/tmp}/medianest-upload.XXXXXX")"
  mkdir -m 0700 "$WORK_DIR/mc"
  trap cleanup EXIT
  trap on_loop_signal TERM INT
  watch_rounds
}

main "$@"
