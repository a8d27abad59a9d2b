#!/usr/bin/env bash
# Adds the SSH user to the docker group so the docker provider (which talks to
# the engine over `ssh user@leader docker system dial-stdio`) can use the socket.
# Usage: docker-access.sh USER
set -euo pipefail

if [ "$#" -ne 1 ] || ! [[ "$1" =~ ^[a-z_][a-z0-9_-]*$ ]]; then
  echo "usage: docker-access.sh USER" >&2
  exit 2
fi
user="$1"

if ! id -u "$user" >/dev/null 2>&1; then
  echo "error: user '$user' does not exist on $(hostname)" >&2
  exit 1
fi
if ! getent group docker >/dev/null; then
  echo "error: group 'docker' does not exist; is Docker Engine installed?" >&2
  exit 1
fi
if id -nG "$user" | tr ' ' '\n' | grep -qx docker; then
  echo "ok: $user in group docker"
else
  usermod -aG docker "$user"
  # Group membership applies to new sessions only; later SSH connections are new sessions.
  echo "changed: added $user to group docker"
fi
