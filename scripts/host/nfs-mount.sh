#!/usr/bin/env bash
# nfs-mount.sh — manage one NFS mount through a marked /etc/fstab line.
# Usage:
#   bash -s -- --state present --server SERVER --export EXPORT --mount-point DIR
#              --options OPTIONS --owner OWNER [--fstab PATH] < nfs-mount.sh
#   bash -s -- --state absent --mount-point DIR --owner OWNER [--fstab PATH] < nfs-mount.sh
#   OWNER         the resource that manages the mount, kept in the managed line: `absent` acts
#                 only for that owner (or a line without one), so the delete left behind by a
#                 host renamed in config does not unmount the share its new resource mounted
#   --fstab PATH  edit PATH instead of /etc/fstab; for tests only (the mount step still runs).
# The managed line is: "SERVER:EXPORT MOUNTPOINT nfs OPTIONS 0 0 # managed-by=medianest owner=OWNER".
# Output: "ok:"/"changed:" lines on stdout; "error: ..." on stderr + non-zero exit.
set -euo pipefail

# shellcheck source-path=SCRIPTDIR source=../lib/host-lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/../lib/host-lib.sh"

MARKER='# managed-by=medianest'
TMP_FILE=""
FSTAB_LINES=()

cleanup() { if [ -n "$TMP_FILE" ]; then rm -f "$TMP_FILE"; fi; }

usage() {
  cat >&2 <<'USAGE'
usage: nfs-mount.sh --state present --server SERVER --export EXPORT --mount-point DIR
                    --options OPTIONS --owner OWNER [--fstab PATH]
       nfs-mount.sh --state absent --mount-point DIR --owner OWNER [--fstab PATH]
  --fstab PATH  operate on PATH instead of /etc/fstab (for tests)
USAGE
  exit 2
}

# Strip trailing slashes (but keep "/") so "/mnt/x/" and "/mnt/x" compare equal.
strip_slash() {
  local p="$1"
  while [ "${#p}" -gt 1 ] && [ "${p%/}" != "$p" ]; do p="${p%/}"; done
  printf '%s' "$p"
}

validate_mountpoint() {
  local mp="$1"
  [[ "$mp" == /* ]] || die "mountpoint '$mp' must be an absolute path"
  [[ "$mp" =~ ^/[^[:space:]#]*$ ]] || die "mountpoint '$mp' must not contain whitespace or '#'"
  [[ "$mp/" != */../* && "$mp/" != */./* ]] || die "mountpoint '$mp' must not contain '.' or '..' components"
  [ "$(strip_slash "$mp")" != "/" ] || die "refusing to manage '/' as an NFS mountpoint"
}

# Echo the source of what is mounted at $1 (top of the stack), or nothing.
mounted_source() {
  findmnt -rn -M "$1" -o SOURCE 2>/dev/null | tail -n 1 || true
}

# True when fstab line $1 is an active (non-comment) entry for mountpoint $2.
line_is_for_mp() {
  local line="$1" mp="$2" f1 f2
  read -r f1 f2 _ <<<"$line" || true
  [ -n "${f1:-}" ] && [ "${f1:0:1}" != "#" ] && [ -n "${f2:-}" ] && [ "$(strip_slash "$f2")" = "$mp" ]
}

# Lines written before owners were recorded end in the bare marker.
line_is_managed() { [[ "$1" == *" $MARKER" || "$1" == *" $MARKER owner="* ]]; }

# The owner recorded in a managed line, or nothing.
line_owner() { if [[ "$1" == *" $MARKER owner="* ]]; then printf '%s' "${1##* owner=}"; fi; }

# Atomically replace the fstab with the given lines, keeping its mode and owner.
write_fstab() {
  local fstab="$1"; shift
  TMP_FILE="$(mktemp "$(dirname "$fstab")/.fstab.medianest.XXXXXX")"
  if [ "$#" -gt 0 ]; then printf '%s\n' "$@" >"$TMP_FILE"; fi
  if [ -e "$fstab" ]; then
    chmod --reference="$fstab" "$TMP_FILE"
    chown --reference="$fstab" "$TMP_FILE"
  else
    chmod 0644 "$TMP_FILE"
  fi
  mv -f "$TMP_FILE" "$fstab"
  TMP_FILE=""
  # systemd generates mount units from /etc/fstab; keep them in sync with our edit.
  if [ "$fstab" = /etc/fstab ] && has_systemd; then systemctl daemon-reload; fi
}

load_fstab() {
  FSTAB_LINES=()
  if [ -e "$1" ]; then mapfile -t FSTAB_LINES <"$1"; fi
}

ensure_nfs_client() {
  if command -v mount.nfs >/dev/null 2>&1 || [ -x /sbin/mount.nfs ] || [ -x /usr/sbin/mount.nfs ]; then
    printf 'ok: nfs client (mount.nfs)\n'
    return 0
  fi
  command -v apt-get >/dev/null 2>&1 || die "mount.nfs missing and apt-get not available; install the NFS client (nfs-common) by hand"
  DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=300 -q update >/dev/null \
    || die "apt-get update failed; check the host's apt sources/network, then re-run"
  DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=300 -q install -y nfs-common >/dev/null \
    || die "installing nfs-common failed; run 'apt-get install nfs-common' on the host to see why"
  printf 'changed: installed nfs-common\n'
}

do_present() {
  local fstab="$1" server="$2" export_path="$3" mp="$4" options="$5" owner="$6"
  [[ "$server" =~ ^([A-Za-z0-9]([A-Za-z0-9.-]*[A-Za-z0-9])?|\[[0-9A-Fa-f:.]+\]|[0-9A-Fa-f]*:[0-9A-Fa-f:.]*)$ ]] \
    || die "server '$server' must be a hostname, IPv4 or IPv6 address"
  # fstab/mount.nfs need IPv6 servers in brackets: [2001:db8::1]:/export
  if [[ "$server" == *:* && "$server" != \[* ]]; then server="[$server]"; fi
  [[ "$export_path" =~ ^/[^[:space:]#]*$ ]] || die "export '$export_path' must be an absolute path without whitespace or '#'"
  validate_mountpoint "$mp"
  [[ "$options" =~ ^[A-Za-z0-9_.,=:/@+-]+$ ]] \
    || die "options '$options' must be a comma-separated mount option list without spaces (e.g. 'rw,hard,nfsvers=4.2,_netdev')"
  mp="$(strip_slash "$mp")"
  export_path="$(strip_slash "$export_path")"
  local source="$server:$export_path"
  local desired="$source $mp nfs $options 0 0 $MARKER owner=$owner"

  # Read-only checks first, so a conflict aborts before anything is installed or edited.
  local current
  current="$(mounted_source "$mp")"
  if [ -n "$current" ] && [ "$(strip_slash "$current")" != "$source" ]; then
    die "$mp is already mounted from '$current', expected '$source'; unmount it ('umount $mp') and re-run"
  fi
  if [ -e "$mp" ] && [ ! -d "$mp" ]; then
    die "$mp exists but is not a directory; move it away and re-run"
  fi

  # --- fstab: exactly one managed line for this mountpoint, never touching foreign lines.
  load_fstab "$fstab"
  local -a out=()
  local line n=0 placed=false need_write=false
  for line in "${FSTAB_LINES[@]}"; do
    n=$((n + 1))
    if line_is_for_mp "$line" "$mp"; then
      line_is_managed "$line" \
        || die "$fstab line $n already mounts $mp and is not managed by medianest; remove that line or choose another mountpoint"
      if $placed; then need_write=true; continue; fi   # drop duplicate managed lines
      placed=true
      if [ "$line" != "$desired" ]; then need_write=true; line="$desired"; fi
    fi
    out+=("$line")
  done
  if ! $placed; then out+=("$desired"); need_write=true; fi

  ensure_nfs_client

  if $need_write; then
    write_fstab "$fstab" "${out[@]}"
    printf 'changed: fstab %s -> %s\n' "$mp" "$source"
  else
    printf 'ok: fstab %s\n' "$mp"
  fi

  # --- mountpoint directory.
  if [ -d "$mp" ]; then
    printf 'ok: mountpoint %s\n' "$mp"
  else
    mkdir -p -- "$mp"
    printf 'changed: mountpoint %s created\n' "$mp"
  fi

  # --- the mount itself.
  if [ -n "$current" ]; then
    printf 'ok: mounted %s on %s\n' "$source" "$mp"
    return 0
  fi
  # mount --fstab uses exactly the line we manage; timeout bounds a hung server (mount.nfs retries ~2 min).
  local err
  if ! err="$(timeout 150 mount --fstab "$fstab" "$mp" 2>&1)"; then
    die "mounting $source on $mp failed: ${err//$'\n'/ }; check the NFS server is reachable, the export allows this host, and the options"
  fi
  printf 'changed: mounted %s on %s\n' "$source" "$mp"
}

do_absent() {
  local fstab="$1" mp="$2" owner="$3"
  validate_mountpoint "$mp"
  mp="$(strip_slash "$mp")"

  load_fstab "$fstab"
  local line recorded
  for line in "${FSTAB_LINES[@]}"; do
    if line_is_for_mp "$line" "$mp" && line_is_managed "$line"; then
      recorded="$(line_owner "$line")"
      if [ -n "$recorded" ] && [ "$recorded" != "$owner" ]; then
        printf 'ok: %s now managed by %s, not %s; left as it is\n' "$mp" "$recorded" "$owner"
        return 0
      fi
    fi
  done
  local -a out=()
  local managed_source="" removed=false f1
  for line in "${FSTAB_LINES[@]}"; do
    if line_is_for_mp "$line" "$mp" && line_is_managed "$line"; then
      read -r f1 _ <<<"$line"
      managed_source="$f1"
      removed=true
      continue
    fi
    out+=("$line")
  done

  # Unmount before dropping the line, so a failed unmount leaves state to retry from.
  local current
  current="$(mounted_source "$mp")"
  if [ -z "$current" ]; then
    printf 'ok: %s not mounted\n' "$mp"
  elif [ -n "$managed_source" ] && [ "$(strip_slash "$current")" = "$(strip_slash "$managed_source")" ]; then
    local err
    if ! err="$(timeout 60 umount "$mp" 2>&1)"; then
      die "unmounting $mp failed: ${err//$'\n'/ }; stop processes using it ('fuser -vm $mp') or use 'umount -l $mp', then re-run"
    fi
    printf 'changed: unmounted %s\n' "$mp"
  else
    printf 'ok: %s is mounted from %s, not by a medianest entry; left mounted\n' "$mp" "$current"
  fi

  if $removed; then
    write_fstab "$fstab" "${out[@]}"
    printf 'changed: fstab %s entry removed\n' "$mp"
  else
    printf 'ok: fstab %s entry absent\n' "$mp"
  fi
}

main() {
  parse_flags "state server export mount-point options owner fstab" "$@"
  require_flags state mount-point owner
  check_choice state present absent
  check_name owner
  if [ "${OPT[state]}" = present ]; then
    require_values server export options
  else
    [ -z "${OPT[server]:-}${OPT[export]:-}${OPT[options]:-}" ] || bad_arg "--state absent takes only --mount-point, --owner (and --fstab)"
  fi
  # --fstab: tests only.
  local fstab="${OPT[fstab]:-/etc/fstab}"
  [ -n "$fstab" ] || bad_arg "--fstab needs a file path"
  exec </dev/null
  trap cleanup EXIT
  # Edit the real file behind a symlinked fstab, not the link.
  if [ -L "$fstab" ]; then fstab="$(readlink -f -- "$fstab")"; fi

  if [ "${OPT[state]}" = present ]; then
    do_present "$fstab" "${OPT[server]}" "${OPT[export]}" "${OPT[mount-point]}" "${OPT[options]}" "${OPT[owner]}"
  else
    do_absent "$fstab" "${OPT[mount-point]}" "${OPT[owner]}"
  fi
}

main "$@"
