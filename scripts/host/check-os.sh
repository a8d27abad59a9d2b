#!/usr/bin/env bash
# check-os.sh — verify this host is a supported target before anything is installed.
# Usage: bash -s < check-os.sh        (no flags)
# Output: "ok: os <ID> <VERSION_ID> <arch>" on stdout; "error: ..." on stderr + non-zero exit.
set -euo pipefail

# shellcheck source-path=SCRIPTDIR source=../lib/host-lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/../lib/host-lib.sh"

usage() { printf 'usage: check-os.sh (takes no flags)\n' >&2; exit 2; }

main() {
  parse_flags "" "$@"
  exec </dev/null

  # The other scripts rely on bash 4 features (associative arrays, mapfile).
  if [ "${BASH_VERSINFO[0]}" -lt 4 ]; then
    die "bash ${BASH_VERSION} is too old; install bash >= 4"
  fi

  local kernel
  kernel="$(uname -s)"
  [ "$kernel" = Linux ] || die "unsupported kernel '$kernel'; only Linux hosts are supported"
  [ -r /etc/os-release ] || die "/etc/os-release not found; only Debian/Ubuntu hosts are supported"

  # Source in a subshell so os-release variables cannot clobber ours.
  local -a os_fields
  mapfile -t os_fields < <(
    # shellcheck disable=SC1091
    . /etc/os-release && printf '%s\n' "${ID:-}" "${ID_LIKE:-}" "${VERSION_ID:-}"
  )
  local os_id="${os_fields[0]:-}" os_like="${os_fields[1]:-}" os_version="${os_fields[2]:-}"

  # Docker's apt repository (install-docker.sh) serves Debian/Ubuntu and their derivatives.
  local word supported=false
  for word in $os_id $os_like; do
    case "$word" in debian|ubuntu) supported=true ;; esac
  done
  $supported || die "unsupported distribution '${os_id:-unknown}' (ID_LIKE='${os_like}'); use Debian or Ubuntu"

  # Docker publishes amd64/arm64 packages; prefer dpkg's naming, fall back to uname.
  local arch
  if command -v dpkg >/dev/null 2>&1; then
    arch="$(dpkg --print-architecture)"
  else
    case "$(uname -m)" in
      x86_64|amd64) arch=amd64 ;;
      aarch64|arm64) arch=arm64 ;;
      *) arch="$(uname -m)" ;;
    esac
  fi
  case "$arch" in
    amd64|arm64) ;;
    *) die "unsupported architecture '$arch'; use an amd64 or arm64 host" ;;
  esac

  printf 'ok: os %s %s %s\n' "$os_id" "${os_version:-unknown}" "$arch"
}

main "$@"
