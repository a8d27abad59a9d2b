#!/usr/bin/env bash
# A stand-in `docker` CLI for the swarm scripts' behaviour tests: just the calls
# node-remove.sh makes, answered from files in $FAKE_DOCKER_STATE, every call logged.
#   manager-id    this manager's node ID        nodes       node IDs, one per line
#   NODE.owner    com.medianest.owner label     NODE.release  com.medianest.release-stateful label
#   NODE.avail    availability (default active)  NODE.tasks  task names meant to run (SERVICE.SLOT)
set -euo pipefail
state="${FAKE_DOCKER_STATE:?}"
printf '%s\n' "$*" >>"$state/calls"
read_or() { if [ -f "$1" ]; then cat "$1"; else printf '%s' "$2"; fi; }
case "$1 ${2:-}" in
  "info --format")
    case "$3" in
      *ControlAvailable*) echo true ;;
      *NodeID*) cat "$state/manager-id" ;;
      *) exit 1 ;;
    esac ;;
  "node ls") cat "$state/nodes" ;;
  "node inspect")
    template="$4" node="$5"
    case "$template" in
      *com.medianest.owner*) read_or "$state/$node.owner" "" ; echo ;;
      *com.medianest.release-stateful*) read_or "$state/$node.release" ""; echo ;;
      *Availability*) read_or "$state/$node.avail" active; echo ;;
      *Role*) echo worker ;;
      *) exit 1 ;;
    esac ;;
  "node ps")
    node="$3"
    if [ "${*: -1}" = -q ]; then
      if [ -s "$state/$node.tasks" ]; then sed 's/^/id-/' "$state/$node.tasks"; fi
    else
      read_or "$state/$node.tasks" ""
    fi ;;
  "node update")
    # --availability drain NODE: the orchestrator moves every task away.
    node="${*: -1}"
    echo drain >"$state/$node.avail"
    : >"$state/$node.tasks" ;;
  "node rm") echo "${*: -1}" >>"$state/removed" ;;
  *) echo "fake docker: unexpected call: $*" >&2; exit 1 ;;
esac
