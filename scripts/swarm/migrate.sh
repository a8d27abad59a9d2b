#!/usr/bin/env bash
# migrate.sh: the schema migration step of a rollout, run on a manager before any task of
# the new backend image starts. For each image it runs the app's migration command once, as
# a Swarm replicated-job on the database network with the database_url secret mounted, waits
# for the job's task to finish, prints its output and removes the job.
# Usage: bash -s -- --image IMAGE [--image IMAGE...] --network NAME --secret NAME --uid N
#          --gid N --timeout SECONDS [--constraint EXPR...] -- COMMAND [ARG...] < migrate.sh
#   --image       a backend image about to roll out (an argument, so that a new image is an
#                 update of this command and runs it again); migrations run in the given order.
#   --secret      the Swarm secret holding the database URL, mounted as /run/secrets/database_url.
#   --constraint  placement of the job's task (the backend's own constraints).
#   after --      the container's command (its first word becomes the entrypoint).
# Output: the migration's own output, then "changed:" lines; "error: ..." on stderr.
set -euo pipefail

# shellcheck source-path=SCRIPTDIR source=../lib/host-lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/../lib/host-lib.sh"

usage() { printf 'usage: migrate.sh --image IMAGE... --network NAME --secret NAME --uid N --gid N --timeout SECONDS [--constraint EXPR...] -- COMMAND...\n' >&2; exit 2; }

JOB=""
remove_job() {
  [ -z "$JOB" ] || docker service rm "$JOB" >/dev/null 2>&1 || true
}

# The job's task state: complete, failed, rejected, or empty while it still runs.
job_outcome() {
  local states
  states="$(docker service ps --no-trunc --format '{{.CurrentState}}' "$1" 2>/dev/null || true)"
  case "$states" in
    Complete*) printf 'complete' ;;
    Failed* | Rejected* | Shutdown*) printf 'failed' ;;
    *) printf '' ;;
  esac
}

run_job() {
  local image="$1" timeout="$2" outcome="" waited=0 logs
  JOB="medianest-migrate-$(date +%s)-$$"
  local -a create=(docker service create --detach --quiet --name "$JOB" --mode replicated-job --restart-condition none
    --label com.medianest.role=migration --network "${OPT[network]}"
    --secret "source=${OPT[secret]},target=database_url,uid=${OPT[uid]},gid=${OPT[gid]},mode=0400")
  local constraint
  local -a constraints=()
  [ -z "${OPT[constraint]:-}" ] || mapfile -t constraints <<<"${OPT[constraint]}"
  for constraint in "${constraints[@]}"; do
    create+=(--constraint "$constraint")
  done
  create+=(--entrypoint "${REST[0]}" "$image" "${REST[@]:1}")
  "${create[@]}" >/dev/null || die "could not create the migration job for $image"
  while [ -z "$outcome" ]; do
    if ((waited >= timeout)); then
      logs="$(docker service logs --raw "$JOB" 2>&1 || true)"
      die "the migration with $image did not finish within ${timeout} s; the rollout stops here. Its output: ${logs}"
    fi
    sleep 2
    waited=$((waited + 2))
    outcome="$(job_outcome "$JOB")"
  done
  logs="$(docker service logs --raw "$JOB" 2>&1 || true)"
  [ -z "$logs" ] || printf '%s\n' "$logs"
  [ "$outcome" = complete ] || die "the migration with $image failed; the rollout stops here (its output is above; task: $(docker service ps --no-trunc --format '{{.Error}}' "$JOB" 2>/dev/null | head -n 1))"
  remove_job
  JOB=""
  printf 'changed: migrations applied with %s in %s s\n' "$image" "$waited"
}

main() {
  parse_flags "image* network secret uid gid timeout constraint* ..." "$@"
  require_flags image network secret uid gid timeout
  [[ "${OPT[network]}" =~ ^[a-z0-9][a-z0-9-]*$ ]] || bad_arg "--network '${OPT[network]}' is not a network name"
  [[ "${OPT[secret]}" =~ ^[A-Za-z0-9][A-Za-z0-9_.-]*$ ]] || bad_arg "--secret '${OPT[secret]}' is not a secret name"
  [[ "${OPT[uid]}" =~ ^[0-9]+$ && "${OPT[gid]}" =~ ^[0-9]+$ ]] || bad_arg "--uid and --gid are numbers"
  [[ "${OPT[timeout]}" =~ ^[1-9][0-9]*$ ]] || bad_arg "--timeout '${OPT[timeout]}' is not a number of seconds"
  [ "${#REST[@]}" -gt 0 ] || bad_arg "the migration command follows --"
  local image
  local -a images
  mapfile -t images <<<"${OPT[image]}"
  for image in "${images[@]}"; do
    [[ "$image" =~ ^[A-Za-z0-9._/:@-]+$ ]] || bad_arg "--image '$image' is not an image reference"
  done
  exec </dev/null
  command -v docker >/dev/null 2>&1 || die "docker CLI not found on $(hostname)"
  trap remove_job EXIT
  for image in "${images[@]}"; do
    run_job "$image" "${OPT[timeout]}"
  done
}

main "$@"
