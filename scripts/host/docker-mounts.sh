#!/usr/bin/env bash
# docker-mounts.sh — order Docker after the NFS media share at boot: a systemd drop-in for
# docker.service with RequiresMountsFor=, so no task (the worker) starts writing into the
# bare mountpoint before the share is mounted.
# Usage:
#   bash -s -- --state present --mount-point DIR --owner OWNER [--unit-dir DIR] < docker-mounts.sh
#   bash -s -- --state absent --owner OWNER [--unit-dir DIR] < docker-mounts.sh
#   OWNER       the resource that manages the drop-in, recorded in it: `absent` removes only
#               its own (a host renamed in config keeps the drop-in its new resource wrote)
#   --unit-dir  write below DIR instead of /etc/systemd/system; for tests only (no daemon-reload)
# The drop-in is UNIT_DIR/docker.service.d/medianest-mounts.conf. RequiresMountsFor= adds
# Requires= and After= on the mount units of the path (systemd.unit(5)); After=remote-fs.target
# waits for every network mount. If the share cannot be mounted at boot, Docker does not start
# there until it is (then `systemctl start docker`). A host without systemd (a hand-started
# dockerd, like the lab's) gets no drop-in: its operator starts dockerd after the mount.
# Changes apply at the next boot: only `systemctl daemon-reload`, never a Docker restart.
# Output: "ok:"/"changed:" lines on stdout; "error: ..." on stderr + non-zero exit.
set -euo pipefail

# shellcheck source-path=SCRIPTDIR source=../lib/host-lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/../lib/host-lib.sh"

MARKER='# managed-by=medianest'
DEFAULT_UNIT_DIR=/etc/systemd/system
TMP_FILE=""

cleanup() { if [ -n "$TMP_FILE" ]; then rm -f "$TMP_FILE"; fi; }

usage() {
  cat >&2 <<'USAGE'
usage: docker-mounts.sh --state present --mount-point DIR --owner OWNER [--unit-dir DIR]
       docker-mounts.sh --state absent --owner OWNER [--unit-dir DIR]
  --unit-dir DIR  operate below DIR instead of /etc/systemd/system (for tests)
USAGE
  exit 2
}

# The owner recorded in a drop-in's marker line, or nothing (not ours, or no marker).
file_owner() {
  local first
  IFS= read -r first <"$1" || true
  if [[ "$first" == "$MARKER owner="* ]]; then printf '%s' "${first#"$MARKER owner="}"; fi
}

reload_if_live() {
  if [ "$1" = "$DEFAULT_UNIT_DIR" ] && has_systemd; then
    systemctl daemon-reload || die "systemctl daemon-reload failed (see above)"
  fi
}

do_present() {
  local unit_dir="$1" mp="$2" owner="$3"
  local dir="$unit_dir/docker.service.d" file="$unit_dir/docker.service.d/medianest-mounts.conf"
  local desired
  desired="$(printf '%s\n' \
    "$MARKER owner=$owner" \
    "# Docker starts only once the media share (storage.nfs) is mounted at $mp." \
    "[Unit]" \
    "RequiresMountsFor=$mp" \
    "After=remote-fs.target")"
  if [ -f "$file" ] && [ "$(cat "$file")" = "$desired" ]; then
    printf 'ok: docker.service waits for %s\n' "$mp"
    return 0
  fi
  if [ -e "$file" ] && [ -z "$(file_owner "$file")" ]; then
    die "$file exists and is not managed by medianest; move it away and re-run"
  fi
  mkdir -p -- "$dir"
  TMP_FILE="$(mktemp "$dir/.medianest-mounts.XXXXXX")"
  printf '%s\n' "$desired" >"$TMP_FILE"
  chmod 0644 "$TMP_FILE"
  mv -f "$TMP_FILE" "$file"
  TMP_FILE=""
  reload_if_live "$unit_dir"
  printf 'changed: docker.service waits for %s (%s)\n' "$mp" "$file"
}

do_absent() {
  local unit_dir="$1" owner="$2"
  local dir="$unit_dir/docker.service.d" file="$unit_dir/docker.service.d/medianest-mounts.conf"
  if [ ! -e "$file" ]; then
    printf 'ok: no docker.service mount drop-in\n'
    return 0
  fi
  local recorded
  recorded="$(file_owner "$file")"
  if [ -z "$recorded" ]; then
    printf 'ok: %s is not managed by medianest; left as it is\n' "$file"
    return 0
  fi
  if [ "$recorded" != "$owner" ]; then
    printf 'ok: %s now managed by %s, not %s; left as it is\n' "$file" "$recorded" "$owner"
    return 0
  fi
  rm -f -- "$file"
  rmdir --ignore-fail-on-non-empty -- "$dir"
  reload_if_live "$unit_dir"
  printf 'changed: docker.service mount drop-in removed\n'
}

main() {
  parse_flags "state mount-point owner unit-dir" "$@"
  require_flags state owner
  check_choice state present absent
  check_name owner
  local unit_dir="${OPT[unit-dir]:-$DEFAULT_UNIT_DIR}"
  [[ "$unit_dir" == /* ]] || bad_arg "--unit-dir '$unit_dir' must be an absolute path"
  if [ "${OPT[state]}" = present ]; then
    require_values mount-point
    local mp="${OPT[mount-point]}"
    [[ "$mp" =~ ^/[A-Za-z0-9._/-]*$ && "$mp/" != */../* ]] || bad_arg "--mount-point '$mp' must be an absolute path of letters, digits, '.', '_', '-' and '/'"
    while [ "${#mp}" -gt 1 ] && [ "${mp%/}" != "$mp" ]; do mp="${mp%/}"; done
    [ "$mp" != / ] || bad_arg "--mount-point must not be /"
  else
    [ -z "${OPT[mount-point]:-}" ] || bad_arg "--state absent takes only --owner (and --unit-dir)"
  fi
  exec </dev/null
  trap cleanup EXIT

  if [ "$unit_dir" = "$DEFAULT_UNIT_DIR" ] && ! has_systemd; then
    if [ "${OPT[state]}" = present ]; then
      printf 'ok: no systemd on this host: nothing orders dockerd after %s; start it once the share is mounted\n' "$mp"
    else
      printf 'ok: no systemd on this host: no drop-in to remove\n'
    fi
    return 0
  fi
  if [ "${OPT[state]}" = present ]; then
    do_present "$unit_dir" "$mp" "${OPT[owner]}"
  else
    do_absent "$unit_dir" "${OPT[owner]}"
  fi
}

main "$@"
