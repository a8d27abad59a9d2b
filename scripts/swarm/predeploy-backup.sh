#!/usr/bin/env bash
# predeploy-backup.sh: one pg_dump round, right before new app images roll out
# (the spec's "Backup Database" step). Runs on each host that may run the database: where
# the postgres-backup service's task runs, it executes that service's own dump script
# (/run/medianest/pg-dump.sh) with --once inside the task, which already has the database
# network, the password secret and the backup directory, and checks that the dump and its
# checksum are there. The rollout waits for it and stops when it fails.
# A host without a running task refuses too, unless it can tell that nothing is lost:
#   - a manager asks Swarm: the service does not exist yet (a first deployment) or its task
#     runs on another node (that host's own run takes the backup);
#   - a worker cannot ask Swarm: it passes only while the primary's data directory
#     (--database-dir) holds no database (a first deployment, or the primary lives elsewhere).
# A task that is (re)starting is waited for, bounded (--wait-seconds, default 20).
# Usage: bash -s -- --service NAME --images IMAGE,IMAGE --database-dir DIR [--wait-seconds N]
#          -- PG_DUMP_ARG... < predeploy-backup.sh
#   --images        the app images about to roll out, comma-separated: they are an argument so
#                   that a new image re-runs this step (an update of the command).
#   --database-dir  the primary's data directory on this host (PG_VERSION marks a database).
#   after --        the dump service's own pg-dump.sh flags.
# Output: "ok:"/"changed:" lines on stdout; "error: ..." on stderr.
set -euo pipefail

# shellcheck source-path=SCRIPTDIR source=../lib/host-lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/../lib/host-lib.sh"

usage() { printf 'usage: predeploy-backup.sh --service NAME --images IMAGE,IMAGE --database-dir DIR [--wait-seconds N] -- PG_DUMP_ARG...\n' >&2; exit 2; }

running_task() {
  docker ps -q --filter "label=com.docker.swarm.service.name=$1" --filter status=running | head -n 1
}

# wait_for_task SERVICE SECONDS: a running task's container here, or "" after SECONDS.
wait_for_task() {
  local service="$1" deadline=$((SECONDS + $2)) container tries
  for ((tries = 0; tries <= $2; tries++)); do
    container="$(running_task "$service")"
    if [ -n "$container" ] || ((SECONDS >= deadline)); then break; fi
    sleep 1
  done
  printf '%s' "$container"
}

is_manager() {
  [ "$(docker info --format '{{.Swarm.ControlAvailable}}' 2>/dev/null || true)" = true ]
}

refuse() {
  die "$1; the rollout stops here without a fresh backup. Start the backup service (docker service scale $2=1) and apply again, or set deployment.preDeployBackup to false to roll out without one"
}

# No running task on this host: pass only where nothing can be lost.
without_local_task() {
  local service="$1" wait="$2" database="${OPT[database-dir]}" nodes container
  if is_manager; then
    if ! docker service inspect "$service" >/dev/null 2>&1; then
      printf 'ok: first deployment: service %s does not exist yet, so there is no database to back up\n' "$service"
      return 0
    fi
    nodes="$(docker service ps --filter desired-state=running --format '{{.Node}} {{.CurrentState}}' "$service" 2>/dev/null | awk '$2 == "Running" { print $1 }' | sort -u | paste -sd, -)"
    if [ -n "$nodes" ] && [ "$nodes" != "$(docker info --format '{{.Name}}' 2>/dev/null || true)" ]; then
      printf 'ok: %s runs on %s; the pre-deploy backup is taken by the run on that host\n' "$service" "$nodes"
      return 0
    fi
  elif [ ! -e "$database/PG_VERSION" ]; then
    printf 'ok: first deployment on %s: no database in %s and no %s task here, nothing to back up here\n' "$(hostname)" "$database" "$service"
    return 0
  fi
  # A task being restarted by Swarm counts once it runs.
  container="$(wait_for_task "$service" "$wait")"
  if [ -n "$container" ]; then
    take_backup "$container"
    return 0
  fi
  if is_manager; then
    refuse "service $service exists but has no running task (scaled to 0, or failing; docker service ps $service)" "$service"
  fi
  refuse "a database lives on $(hostname) ($database) but no $service task runs here (waited ${wait} s)" "$service"
}

take_backup() {
  local container="$1" service="${OPT[service]}" output file
  output="$(timeout 1800 docker exec "$container" bash /run/medianest/pg-dump.sh "${REST[@]}" --once)" \
    || die "pre-deploy backup in $service ($container) failed; the rollout stops here (see above)"
  printf '%s\n' "$output"
  file="$(sed -n 's/^backup: \([^ ]*\) .*/\1/p' <<<"$output" | tail -n 1)"
  [ -n "$file" ] || die "pre-deploy backup in $service printed no 'backup:' line; the rollout stops here"
  docker exec "$container" test -s "$file" -a -s "$file.sha256" \
    || die "pre-deploy backup $file or its checksum is missing in $service; the rollout stops here"
  printf 'changed: pre-deploy backup %s taken in %s on %s before rolling out %s\n' "$file" "$service" "$(hostname)" "${OPT[images]}"
}

main() {
  parse_flags "service images database-dir wait-seconds ..." "$@"
  require_flags service images database-dir
  local service="${OPT[service]}" images="${OPT[images]}" wait="${OPT[wait-seconds]:-20}"
  [[ "$service" =~ ^[a-z0-9][a-z0-9-]*$ ]] || bad_arg "--service '$service' is not a service name"
  [[ "$images" =~ ^[A-Za-z0-9._/:@,-]+$ ]] || bad_arg "--images '$images' is not a comma-separated list of image references"
  [[ "${OPT[database-dir]}" == /* ]] || bad_arg "--database-dir '${OPT[database-dir]}' must be an absolute path"
  [[ "$wait" =~ ^[0-9]{1,4}$ ]] || bad_arg "--wait-seconds '$wait' is not a number of seconds"
  [ "${#REST[@]}" -gt 0 ] || bad_arg "the dump's own flags follow --"
  exec </dev/null
  command -v docker >/dev/null 2>&1 || die "docker CLI not found on $(hostname)"

  local container
  container="$(running_task "$service")"
  if [ -n "$container" ]; then
    take_backup "$container"
  else
    without_local_task "$service" "$((10#$wait))"
  fi
}

main "$@"
