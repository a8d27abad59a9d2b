#!/usr/bin/env bash
# cleanup.sh — remove everything the test lab creates, from this run or any earlier
# (crashed) one. Idempotent; every wait is bounded. Run as root:
#   bash test/lab/cleanup.sh                         # clean up now
#   bash test/lab/cleanup.sh --after-pid PID SECONDS # watchdog: clean up once PID exits
#                                                    # (or after SECONDS at the latest)
# What the lab creates (all named mnlab*):
#   network namespaces mnlab-<host> with their processes (each host's PID 1 is its
#   host-init.sh; killing it kills the host's sshd, dockerd, containerd and containers),
#   the bridge mnlab0 and veths mnv-<host>, iptables rules tagged with comment "mnlab" in
#   the root namespace, cgroups /sys/fs/cgroup/*/mnlab-<host>, run directories
#   /tmp/mnlab-<runid> (their `created-mountpoints` lists the empty mount points the lab
#   had to create, e.g. /etc/medianest, and nothing else), and a watchdog pid file.
#   The data image's debootstrap runs in /tmp/mnlab-<runid>/data-image (in a mount
#   namespace of its own); image tars being written to the cache (MEDIANEST_LAB_CACHE,
#   default /var/cache/medianest-lab) are named *.tar.partial-<pid> until complete.
set -euo pipefail

log() { printf 'lab-cleanup: %s\n' "$*" >&2; }

[ "$(id -u)" -eq 0 ] || { log "not root: nothing to clean up"; exit 0; }

RUN_DIR_RE='^/tmp/mnlab-[a-z0-9]+$'

run_dirs() {
  local d
  for d in /tmp/mnlab-*; do
    [ -d "$d" ] && [[ "$d" =~ $RUN_DIR_RE ]] && printf '%s\n' "$d"
  done
  return 0
}

lab_namespaces() { ip netns list 2>/dev/null | awk '$1 ~ /^mnlab-/ {print $1}'; }

# Processes of the lab that are not inside a lab netns any more (or never were: the
# runner's ssh clients, the data image's debootstrap): their command line names a lab run
# directory, or their root is one (debootstrap's chroot'ed dpkg and maintainer scripts).
# By pid only.
stray_pids() {
  local p cmd root
  for p in /proc/[0-9]*; do
    p="${p#/proc/}"
    [ "$p" != "$$" ] || continue
    cmd="$(tr '\0' ' ' <"/proc/$p/cmdline" 2>/dev/null || true)"
    case "$cmd" in
      *"/tmp/mnlab-"*) [[ "$cmd" == *cleanup.sh* ]] || printf '%s\n' "$p" ;;
      *)
        root="$(readlink "/proc/$p/root" 2>/dev/null || true)"
        case "$root" in /tmp/mnlab-*) printf '%s\n' "$p" ;; esac
        ;;
    esac
  done
  return 0
}

kill_watchdogs() {
  local d pid cmd
  while IFS= read -r d; do
    [ -f "$d/watchdog.pid" ] || continue
    pid="$(cat "$d/watchdog.pid" 2>/dev/null || true)"
    if ! [[ "$pid" =~ ^[0-9]+$ ]] || [ "$pid" = "$$" ]; then continue; fi
    cmd="$(tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null || true)"
    if [[ "$cmd" == *cleanup.sh*--after-pid* ]]; then
      kill -TERM "$pid" 2>/dev/null || true
      log "stopped watchdog $pid"
    fi
  done < <(run_dirs)
}

kill_hosts() {
  local ns pids attempt
  for attempt in 1 2 3 4 5 6 7 8 9 10; do
    pids=""
    while IFS= read -r ns; do
      [ -n "$ns" ] || continue
      pids+=" $(ip netns pids "$ns" 2>/dev/null | tr '\n' ' ')"
    done < <(lab_namespaces)
    pids+=" $(stray_pids | tr '\n' ' ')"
    pids="$(tr ' ' '\n' <<<"$pids" | grep -E '^[0-9]+$' | sort -un | tr '\n' ' ' || true)"
    [ -n "${pids// /}" ] || return 0
    [ "$attempt" -gt 1 ] || log "killing lab processes: $pids"
    # shellcheck disable=SC2086 # a list of pids
    kill -KILL $pids 2>/dev/null || true
    sleep 0.5
  done
  log "warning: lab processes still alive after 10 attempts"
}

delete_network() {
  local ns link i
  while IFS= read -r ns; do
    [ -n "$ns" ] || continue
    ip netns del "$ns" 2>/dev/null && log "deleted netns $ns"
  done < <(lab_namespaces)
  while IFS= read -r link; do
    [ -n "$link" ] || continue
    ip link del "$link" 2>/dev/null && log "deleted link $link"
  done < <(ip -o link show 2>/dev/null | awk -F': ' '{sub(/@.*/, "", $2); print $2}' | grep -E '^(mnlab0|mnv-)' || true)
  for i in $(seq 1 20); do
    local rule
    rule="$(iptables -w -S FORWARD 2>/dev/null | grep -- '--comment mnlab' | head -1 || true)"
    [ -n "$rule" ] || break
    # shellcheck disable=SC2086 # the rule's own words
    eval "iptables -w ${rule/-A FORWARD/-D FORWARD}" && log "removed iptables rule: $rule"
  done
  : "${i:-}"
}

remove_cgroups() {
  local dir attempt left
  for attempt in 1 2 3 4 5 6 7 8 9 10; do
    left=0
    for dir in /sys/fs/cgroup/*/mnlab-* /sys/fs/cgroup/mnlab-*; do
      [ -d "$dir" ] || continue
      find "$dir" -depth -type d -exec rmdir {} + 2>/dev/null || left=1
    done
    [ "$left" -eq 1 ] || return 0
    sleep 0.5
  done
  log "warning: cgroups left: $(find /sys/fs/cgroup -maxdepth 2 -name 'mnlab-*' 2>/dev/null | tr '\n' ' ')"
}

remove_run_dirs() {
  local d m
  while IFS= read -r d; do
    # Mounts never leave a host's private mount namespace; lazily detach any that did.
    while IFS= read -r m; do
      [ -n "$m" ] || continue
      umount -l "$m" 2>/dev/null && log "unmounted $m"
    done < <(awk -v d="$d" '$5 == d || index($5, d "/") == 1 {print $5}' /proc/self/mountinfo | sort -r)
    if [ -f "$d/created-mountpoints" ]; then
      while IFS= read -r m; do
        [ -n "$m" ] || continue
        if [ -d "$m" ] && ! mountpoint -q "$m"; then rmdir "$m" 2>/dev/null && log "removed mount point $m"; fi
      done < <(sort -r "$d/created-mountpoints")
    fi
    rm -rf --one-file-system "$d" && log "removed $d"
  done < <(run_dirs)
}

# Image tars a killed run left half-written in the cache (their writer's pid is gone).
remove_partial_images() {
  local cache="${MEDIANEST_LAB_CACHE:-/var/cache/medianest-lab}" f pid
  [ -d "$cache" ] || return 0
  for f in "$cache"/*.tar.partial-*; do
    [ -f "$f" ] || continue
    pid="${f##*.partial-}"
    [[ "$pid" =~ ^[0-9]+$ ]] || continue
    if ! kill -0 "$pid" 2>/dev/null; then rm -f -- "$f" && log "removed partial image $f"; fi
  done
  return 0
}

main() {
  if [ "${1:-}" = --after-pid ]; then
    local pid="$2" max="$3" i
    for (( i = 0; i < max; i++ )); do
      kill -0 "$pid" 2>/dev/null || break
      sleep 1
    done
  fi
  kill_watchdogs
  kill_hosts
  delete_network
  remove_cgroups
  remove_run_dirs
  remove_partial_images
}

main "$@"
