#!/usr/bin/env bash
# install-docker.sh — ensure Docker Engine (from Docker's official apt repo) is installed and answering.
# Usage: bash -s < install-docker.sh        (no flags; runs as root)
# Output: one "ok:"/"changed:" line on stdout; "error: ..." on stderr + non-zero exit.
set -euo pipefail

# shellcheck source-path=SCRIPTDIR source=../lib/host-lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/../lib/host-lib.sh"

usage() { printf 'usage: install-docker.sh (takes no flags)\n' >&2; exit 2; }

engine_version() {
  local v=""
  v="$(docker version --format '{{.Server.Version}}' 2>/dev/null)" || v=""
  [ -n "$v" ] || v="$(dpkg-query -W -f '${Version}' docker-ce 2>/dev/null)" || v=""
  printf '%s' "${v:-unknown}"
}

# apt/dpkg may be locked by unattended-upgrades on fresh cloud hosts; wait (bounded) instead of failing.
apt_get() {
  DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=300 -o Dpkg::Use-Pty=0 -q "$@"
}

start_existing_engine() {
  if ! has_systemd; then
    die "docker CLI is installed but the daemon is not answering and systemd is absent; start dockerd (e.g. 'dockerd &') and re-run"
  fi
  systemctl enable docker.service >/dev/null 2>&1 || true
  systemctl start docker.service \
    || die "'systemctl start docker' failed; inspect 'journalctl -u docker' and fix the daemon configuration"
  wait_for_docker 30 \
    || die "docker daemon did not answer 'docker info' within 30s after start; inspect 'journalctl -u docker'"
  printf 'changed: started docker engine %s\n' "$(engine_version)"
}

install_engine() {
  command -v apt-get >/dev/null 2>&1 || die "apt-get not found; only Debian/Ubuntu hosts are supported"

  local os_id os_like codename arch repo_os
  local -a os_fields
  mapfile -t os_fields < <(
    # shellcheck disable=SC1091
    . /etc/os-release && printf '%s\n' "${ID:-}" "${ID_LIKE:-}" "${UBUNTU_CODENAME:-}" "${VERSION_CODENAME:-}"
  )
  os_id="${os_fields[0]:-}"
  os_like="${os_fields[1]:-}"
  # Docker's Ubuntu repo is keyed by the Ubuntu codename (derivatives set UBUNTU_CODENAME).
  codename="${os_fields[2]:-${os_fields[3]:-}}"
  case "$os_id" in
    debian|ubuntu) repo_os="$os_id" ;;
    *)
      case " $os_like " in
        *" ubuntu "*) repo_os=ubuntu ;;
        *" debian "*) repo_os=debian; codename="${os_fields[3]:-}" ;;
        *) die "unsupported distribution '$os_id'; Docker's apt repository serves Debian and Ubuntu only" ;;
      esac
      ;;
  esac
  [ -n "$codename" ] || die "VERSION_CODENAME missing from /etc/os-release; cannot pick the Docker apt suite"
  arch="$(dpkg --print-architecture)"

  apt_get update
  apt_get install -y ca-certificates curl

  # Official key + repo, as documented at https://docs.docker.com/engine/install/debian/
  install -m 0755 -d /etc/apt/keyrings
  local key_tmp
  key_tmp="$(mktemp /etc/apt/keyrings/.docker.asc.XXXXXX)"
  if ! curl -fsSL --retry 3 --connect-timeout 15 --max-time 120 \
      "https://download.docker.com/linux/${repo_os}/gpg" -o "$key_tmp"; then
    rm -f "$key_tmp"
    die "could not download Docker's apt key from download.docker.com; check outbound HTTPS/DNS"
  fi
  chmod 0644 "$key_tmp"
  mv -f "$key_tmp" /etc/apt/keyrings/docker.asc

  # A legacy one-line docker.list with a different Signed-By makes apt refuse to run.
  if [ -f /etc/apt/sources.list.d/docker.list ]; then
    mv -f /etc/apt/sources.list.d/docker.list /etc/apt/sources.list.d/docker.list.disabled-by-medianest
  fi
  local sources_tmp
  sources_tmp="$(mktemp /etc/apt/sources.list.d/.docker.sources.XXXXXX)"
  cat >"$sources_tmp" <<SOURCES
Types: deb
URIs: https://download.docker.com/linux/${repo_os}
Suites: ${codename}
Components: stable
Architectures: ${arch}
Signed-By: /etc/apt/keyrings/docker.asc
SOURCES
  chmod 0644 "$sources_tmp"
  mv -f "$sources_tmp" /etc/apt/sources.list.d/docker.sources

  apt_get update
  # apt resolves Debian's conflicting containerd/runc packages itself (containerd.io Conflicts them).
  apt_get install -y docker-ce docker-ce-cli containerd.io docker-buildx-plugin docker-compose-plugin

  if has_systemd; then
    systemctl enable --now docker.service containerd.service >/dev/null \
      || die "'systemctl enable --now docker' failed; inspect 'journalctl -u docker'"
    wait_for_docker 30 \
      || die "docker installed but 'docker info' did not answer within 30s; inspect 'journalctl -u docker'"
  fi
  printf 'changed: installed docker engine %s\n' "$(engine_version)"
  if ! has_systemd && ! docker_ok; then
    # Not an error: without systemd nothing may start daemons for us; the operator/lab starts dockerd.
    printf 'changed: docker engine installed but not running (no systemd); start dockerd by hand\n'
  fi
}

main() {
  parse_flags "" "$@"
  exec </dev/null   # nothing below may read the (already consumed) script stream

  if command -v docker >/dev/null 2>&1; then
    if docker_ok; then
      printf 'ok: docker engine %s\n' "$(engine_version)"
    else
      start_existing_engine
    fi
    return 0
  fi
  install_engine
}

main "$@"
