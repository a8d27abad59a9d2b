#!/usr/bin/env bash
# data-dirs.sh — ensure data directories exist with the exact mode and ownership.
# Usage: bash -s -- --dir SPEC [--dir SPEC ...] [--local-only KEY=PATH ...] < data-dirs.sh
#   SPEC  PATH:MODE:OWNER:GROUP, e.g. /mnt/media:0755:root:root or /opt/medianest/postgres:0700:999:999
#         MODE is 3-4 octal digits; OWNER/GROUP are names or numeric ids.
#   --local-only KEY=PATH  PATH (set by config key KEY) must be on a local filesystem: the run
#         stops, before creating anything, when it (or, not there yet, its nearest existing
#         parent) is on NFS or another network filesystem (MinIO's data: MinIO does not support NFS).
#   --minio-move FROM=TO  MinIO's data used to be in FROM (the media path, before it got a
#         directory of its own) and belongs in TO: the run stops while FROM still holds a MinIO
#         backend (FROM/.minio.sys) and TO none, since MinIO would start empty in TO.
# Output: one "ok:"/"changed:" line per directory on stdout; "error: ..." on stderr + non-zero exit.
set -euo pipefail

# shellcheck source-path=SCRIPTDIR source=../lib/host-lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/../lib/host-lib.sh"

usage() { printf 'usage: data-dirs.sh --dir PATH:MODE:OWNER:GROUP [--dir ...] [--local-only KEY=PATH ...] [--minio-move FROM=TO]\n' >&2; exit 2; }

# Filesystem types (as `stat -f -c %T` names them, coreutils stat.c human_fstype) that live
# on another machine.
NETWORK_FS_TYPES=" nfs cifs smb smb2 afs ceph coda v9fs lustre gpfs "

# check_local KEY PATH: refuse PATH on a network filesystem, naming the config key.
check_local() {
  local key="$1" path="$2" probe fstype
  probe="$path"
  # Not created yet: it will be created on the filesystem of its nearest existing parent.
  while [ ! -e "$probe" ] && [ "$probe" != / ]; do probe="$(dirname -- "$probe")"; done
  fstype="$(stat -f -L -c %T -- "$probe")" || die "cannot read the filesystem type of $probe (for $key)"
  if [[ "$NETWORK_FS_TYPES" == *" $fstype "* ]]; then
    die "$key: $path is on a network filesystem ($fstype, at $probe), and its data needs a local disk (MinIO does not support NFS); set $key to a directory on a local disk of this host"
  fi
}

resolve_uid() {
  local name="$1" uid
  if [[ "$name" =~ ^[0-9]+$ ]]; then printf '%s' "$((10#$name))"; return 0; fi
  uid="$(id -u -- "$name" 2>/dev/null)" \
    || die "user '$name' does not exist; create it first or use a numeric uid"
  printf '%s' "$uid"
}

resolve_gid() {
  local name="$1" entry
  if [[ "$name" =~ ^[0-9]+$ ]]; then printf '%s' "$((10#$name))"; return 0; fi
  entry="$(getent group -- "$name" 2>/dev/null)" \
    || die "group '$name' does not exist; create it first or use a numeric gid"
  printf '%s' "$(cut -d: -f3 <<<"$entry")"
}

main() {
  parse_flags "dir* local-only* minio-move" "$@"
  require_flags dir
  local -a specs locals
  mapfile -t specs < <(flag_values dir)
  mapfile -t locals < <(flag_values local-only)
  local entry
  for entry in "${locals[@]}"; do
    [[ "$entry" =~ ^[A-Za-z][A-Za-z0-9.]*=/[^[:space:]]*$ ]] || bad_arg "--local-only '$entry' must be KEY=/absolute/path"
  done
  local move="${OPT[minio-move]:-}"
  if [ -n "$move" ]; then
    [[ "$move" =~ ^/[^[:space:]=]*=/[^[:space:]=]*$ ]] || bad_arg "--minio-move '$move' must be FROM=TO, two absolute paths"
  fi
  exec </dev/null

  local -a paths=() modes=() uids=() gids=()
  local -A seen=()
  local spec path mode owner group rest
  # Validate every spec before touching anything, so a typo cannot leave a half-applied set.
  for spec in "${specs[@]}"; do
    # Split from the right: the last three fields never contain ':'.
    group="${spec##*:}"; rest="${spec%:*}"
    owner="${rest##*:}"; rest="${rest%:*}"
    mode="${rest##*:}";  path="${rest%:*}"
    if [ "$rest" = "$mode" ] || [ -z "$path" ] || [ -z "$owner" ] || [ -z "$group" ]; then
      die "bad spec '$spec'; expected PATH:MODE:OWNER:GROUP"
    fi
    [[ "$path" == /* ]] || die "path '$path' in '$spec' must be absolute"
    [[ "/$path/" != */../* && "/$path/" != */./* ]] || die "path '$path' must not contain '.' or '..' components"
    [[ "$path" != *[[:space:]]* ]] || die "path '$path' must not contain whitespace"
    if [[ "$path" =~ ^/+$ ]]; then die "refusing to manage '/' itself; give a sub-directory"; fi
    # Normalise trailing and duplicate slashes so the same dir is recognised twice.
    path="$(sed -e 's#//*#/#g' -e 's#/$##' <<<"$path")"
    [[ "$mode" =~ ^[0-7]{3,4}$ ]] || die "mode '$mode' in '$spec' must be 3-4 octal digits (e.g. 0755)"
    [[ "$owner" =~ ^[A-Za-z0-9_][A-Za-z0-9._-]*\$?$ ]] || die "owner '$owner' in '$spec' is not a valid user name or uid"
    [[ "$group" =~ ^[A-Za-z0-9_][A-Za-z0-9._-]*\$?$ ]] || die "group '$group' in '$spec' is not a valid group name or gid"
    local uid gid
    uid="$(resolve_uid "$owner")"
    gid="$(resolve_gid "$group")"
    local want="$((8#$mode)) $uid $gid"
    if [ -n "${seen[$path]:-}" ]; then
      [ "${seen[$path]}" = "$want" ] || die "path '$path' is listed twice with different mode/owner; keep one spec"
      continue
    fi
    seen[$path]="$want"
    paths+=("$path"); modes+=("$((8#$mode))"); uids+=("$uid"); gids+=("$gid")
  done

  # Before anything is created: a directory that must be local is not on a network share.
  for entry in "${locals[@]}"; do check_local "${entry%%=*}" "${entry#*=}"; done
  if [ -n "$move" ] && [ -e "${move%%=*}/.minio.sys" ] && [ ! -e "${move#*=}/.minio.sys" ]; then
    die "MinIO's data is still in ${move%%=*} (its .minio.sys and bucket directories), but MinIO now keeps it in ${move#*=} (storage.minioDataPath) and would start empty there: stop MinIO ('docker service scale minio=0' on a manager), move .minio.sys and the bucket directories from ${move%%=*} to ${move#*=} on the host labelled s3: minio, then run pulumi up again (README: Moving MinIO's data out of the media path)"
  fi

  local i cur_mode cur_uid cur_gid want_mode
  local -a notes
  for i in "${!paths[@]}"; do
    path="${paths[$i]}"; want_mode="${modes[$i]}"
    notes=()
    if [ -e "$path" ] || [ -L "$path" ]; then
      [ -d "$path" ] || die "'$path' exists but is not a directory; move it away and re-run"
    else
      mkdir -p -- "$path"
      notes+=("created")
    fi

    read -r cur_mode cur_uid cur_gid < <(stat -L -c '%a %u %g' -- "$path")
    if [ "$cur_uid" != "${uids[$i]}" ] || [ "$cur_gid" != "${gids[$i]}" ]; then
      # chown clears setuid/setgid bits, so do it before the mode fix.
      chown -- "${uids[$i]}:${gids[$i]}" "$path"
      notes+=("owner $cur_uid:$cur_gid->${uids[$i]}:${gids[$i]}")
      read -r cur_mode _ _ < <(stat -L -c '%a %u %g' -- "$path")
    fi
    if (( 8#$cur_mode != want_mode )); then
      chmod -- "$(printf '%04o' "$want_mode")" "$path"
      # GNU chmod keeps a directory's setuid/setgid bits on numeric modes; clear them explicitly.
      (( want_mode & 8#4000 )) || chmod u-s -- "$path"
      (( want_mode & 8#2000 )) || chmod g-s -- "$path"
      notes+=("mode $(printf '%04o' "$((8#$cur_mode))")->$(printf '%04o' "$want_mode")")
    fi

    if [ "${#notes[@]}" -eq 0 ]; then
      printf 'ok: dir %s\n' "$path"
    else
      local joined
      joined="$(printf '%s, ' "${notes[@]}")"
      printf 'changed: dir %s (%s)\n' "$path" "${joined%, }"
    fi
  done
}

main "$@"
