#!/usr/bin/env bash
# host-init.sh — PID 1 of one lab host. The lab runner starts it as
#   ip netns exec mnlab-HOST unshare --mount --uts --pid --fork --mount-proc --propagation private \
#     bash host-init.sh RUN_DIR HOST ADDRESS
# so everything below happens in the host's own network, mount, UTS and PID namespaces:
# nothing it mounts is visible outside, and when it dies (SIGKILL from the runner or the
# cleanup) the kernel kills every process of the host, containers included.
#
# RUN_DIR/HOST holds the host's state: fs/<name> directories bind-mounted over the paths
# in BINDS, sshd_config + host keys (fs/etc-ssh), authorized_keys (fs/root-ssh), logs, and
# docker.sock (the runner's Engine API endpoint).
set -euo pipefail

die() { printf 'host-init: error: %s\n' "$*" >&2; exit 1; }

[ "$#" -eq 3 ] || die "usage: host-init.sh RUN_DIR HOST ADDRESS"
RUN_DIR="$1" HOST="$2" ADDRESS="$3"
HOST_DIR="$RUN_DIR/$HOST"
[ -d "$HOST_DIR/fs" ] || die "$HOST_DIR/fs does not exist (the runner prepares it)"
[ "$$" -eq 1 ] || die "must run as PID 1 of its own PID namespace (unshare --pid --fork)"

# target:source-directory-name; the runner creates missing targets and removes them afterwards.
BINDS=(
  /var/lib/docker:var-lib-docker
  /etc/docker:etc-docker
  /var/lib/containerd:var-lib-containerd
  /etc/ssh:etc-ssh
  /root/.ssh:root-ssh
  /root/.docker:root-docker
  /mnt/media:mnt-media
  /mnt/backup:mnt-backup
  /opt/medianest:opt-medianest
  /etc/medianest:etc-medianest
  /var/lib/medianest:var-lib-medianest
  /usr/local/lib/medianest:usr-local-lib-medianest
)

setup_fs() {
  hostname "$HOST"
  # Private /run (and so /var/run, a symlink to it on Debian): sockets, pid files, no systemd marker.
  mount -t tmpfs -o mode=0755,nosuid,nodev tmpfs /run
  mkdir -p /run/sshd /run/lock
  chmod 0755 /run/sshd
  local bind target source
  for bind in "${BINDS[@]}"; do
    target="${bind%%:*}" source="$HOST_DIR/fs/${bind#*:}"
    [ -d "$target" ] || die "mount point $target is missing (the runner creates it)"
    mkdir -p "$source"
    mount --bind "$source" "$target"
  done
}

# `ip netns exec` mounted a fresh /sys for the network namespace, which has no cgroup
# file systems: mount what this kernel offers, as the root namespace has it.
setup_cgroups() {
  mount -t tmpfs -o mode=0755,nosuid,nodev,noexec cgroup /sys/fs/cgroup
  local -A groups=()
  local name hier _rest
  while read -r name hier _rest; do
    case "$name" in '#'*) continue ;; esac
    [ "$hier" != 0 ] || continue
    groups[$hier]="${groups[$hier]:+${groups[$hier]},}$name"
  done </proc/cgroups
  if [ "${#groups[@]}" -eq 0 ]; then
    # Pure cgroup v2.
    mount -t cgroup2 -o nosuid,nodev,noexec cgroup2 /sys/fs/cgroup
    return 0
  fi
  local set sub
  for set in "${groups[@]}"; do
    mkdir -p "/sys/fs/cgroup/$set"
    mount -t cgroup -o "nosuid,nodev,noexec,$set" cgroup "/sys/fs/cgroup/$set"
    # Co-mounted controllers (cpu,cpuacct) are also reachable by each name, as systemd sets it up.
    if [[ "$set" == *,* ]]; then
      IFS=, read -r -a subs <<<"$set"
      for sub in "${subs[@]}"; do ln -sfn "$set" "/sys/fs/cgroup/$sub"; done
    fi
  done
  if grep -q 'name=systemd' /proc/self/cgroup; then
    mkdir -p /sys/fs/cgroup/systemd
    mount -t cgroup -o nosuid,nodev,noexec,none,name=systemd cgroup /sys/fs/cgroup/systemd
  fi
  if grep -q '^0::' /proc/self/cgroup; then
    mkdir -p /sys/fs/cgroup/unified
    mount -t cgroup2 -o nosuid,nodev,noexec cgroup2 /sys/fs/cgroup/unified
  fi
}

SSHD_PID="" DOCKERD_PID=""

# Debian's docker.io. Its own data-root/exec-root/pidfile (all per host through the
# mounts above) and a second API socket outside the host for the runner.
start_dockerd() {
  dockerd \
    --data-root /var/lib/docker \
    --exec-root /run/docker \
    --pidfile /run/docker.pid \
    --host unix:///run/docker.sock \
    --host "unix://$HOST_DIR/docker.sock" \
    --storage-driver overlay2 \
    --cgroup-parent "/mnlab-$HOST" \
    --userland-proxy=false \
    --log-level warn \
    >>"$HOST_DIR/dockerd.log" 2>&1 &
  DOCKERD_PID=$!
}

# A forgotten host stops itself after this long (the lab takes minutes).
MAX_LIFETIME_SECONDS=3600

shutdown() {
  trap - TERM INT
  if [ -n "$DOCKERD_PID" ]; then kill -TERM "$DOCKERD_PID" 2>/dev/null || true; fi
  if [ -n "$SSHD_PID" ]; then kill -TERM "$SSHD_PID" 2>/dev/null || true; fi
  local i
  for (( i = 0; i < 40; i++ )); do
    if [ -n "$DOCKERD_PID" ] && kill -0 "$DOCKERD_PID" 2>/dev/null; then sleep 0.5; else break; fi
  done
  # Exiting as PID 1 kills whatever is left in this PID namespace.
  exit 0
}

main() {
  setup_fs
  setup_cgroups
  trap shutdown TERM INT

  /usr/sbin/sshd -D -f /etc/ssh/sshd_config -E "$HOST_DIR/sshd.log" &
  SSHD_PID=$!

  start_dockerd
  printf 'host-init: %s up (address %s, sshd %s, dockerd %s)\n' "$HOST" "$ADDRESS" "$SSHD_PID" "$DOCKERD_PID"

  # Run until dockerd or sshd goes away, the runner stops us, or the lifetime is over. As
  # PID 1, bash also reaps the orphans reparented to it (containerd shims). `wait` on a
  # background sleep keeps the TERM/INT trap responsive.
  # The lab's manager-loss check stops dockerd on purpose: it first creates
  # $HOST_DIR/dockerd.hold. While that file exists a dead dockerd keeps the host up
  # (dockerd.held tells the runner so); once the runner removes it, dockerd starts again.
  local i held=0
  for (( i = 0; i < MAX_LIFETIME_SECONDS; i++ )); do
    if ! kill -0 "$SSHD_PID" 2>/dev/null; then break; fi
    if ! kill -0 "$DOCKERD_PID" 2>/dev/null; then
      if [ -e "$HOST_DIR/dockerd.hold" ]; then
        if [ "$held" -eq 0 ]; then
          held=1
          printf 'host-init: %s: dockerd stopped; held until the lab removes dockerd.hold\n' "$HOST"
          : >"$HOST_DIR/dockerd.held"
        fi
      elif [ "$held" -eq 1 ]; then
        held=0
        rm -f "$HOST_DIR/dockerd.held"
        start_dockerd
        printf 'host-init: %s: dockerd restarted (%s)\n' "$HOST" "$DOCKERD_PID"
      else
        break
      fi
    fi
    sleep 1 &
    wait "$!" || true
  done
  if (( i >= MAX_LIFETIME_SECONDS )); then
    printf 'host-init: %s: lifetime of %ss over; stopping the host\n' "$HOST" "$MAX_LIFETIME_SECONDS" >&2
  else
    printf 'host-init: %s: dockerd or sshd exited; stopping the host\n' "$HOST" >&2
  fi
  shutdown
}

main
