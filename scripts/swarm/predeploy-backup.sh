#!/usr/bin/env bash
# predeploy-backup.sh: one pg_dump round, right before new app images roll out
# (the spec's "Backup Database" step). Runs on the database node: it executes
# the postgres-backup service's own dump script (/run/medianest/pg-dump.sh) with
# --once inside that service's running task, which already has the database
# network, the password secret and the backup directory.
# Usage: bash -s -- --service NAME --images IMAGE,IMAGE -- PG_DUMP_ARG... < predeploy-backup.sh
#   --images  the app images about to roll out, comma-separated: they are an argument so
#             that a new image re-runs this step (an update of the command).
#   after --  the dump service's own pg-dump.sh flags.
# Output: "ok:"/"changed:" lines on stdout; "error: ..." on stderr.
set -euo pipefail

# shellcheck source-path=SCRIPTDIR source=../lib/host-lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/../lib/host-lib.sh"

usage() { printf 'usage: predeploy-backup.sh --service NAME --images IMAGE,IMAGE -- PG_DUMP_ARG...\n' >&2; exit 2; }

main() {
  parse_flags "service images ..." "$@"
  require_flags service images
  local service="${OPT[service]}" images="${OPT[images]}"
  [[ "$service" =~ ^[a-z0-9][a-z0-9-]*$ ]] || bad_arg "--service '$service' is not a service name"
  [[ "$images" =~ ^[A-Za-z0-9._/:@,-]+$ ]] || bad_arg "--images '$images' is not a comma-separated list of image references"
  [ "${#REST[@]}" -gt 0 ] || bad_arg "the dump's own flags follow --"
  exec </dev/null
  command -v docker >/dev/null 2>&1 || die "docker CLI not found on $(hostname)"

  local container
  container="$(docker ps -q --filter "label=com.docker.swarm.service.name=$service" --filter status=running | head -n 1)"
  if [ -z "$container" ]; then
    # First deployment (the service is being created in this run) or the task runs elsewhere.
    printf 'ok: no running %s task on %s; nothing to back up here\n' "$service" "$(hostname)"
    return 0
  fi
  local output
  output="$(timeout 1800 docker exec "$container" bash /run/medianest/pg-dump.sh "${REST[@]}" --once)" \
    || die "pre-deploy backup in $service ($container) failed; the rollout stops here (see above)"
  printf '%s\n' "$output"
  printf 'changed: pre-deploy backup taken in %s on %s before rolling out %s\n' "$service" "$(hostname)" "$images"
}

main "$@"
