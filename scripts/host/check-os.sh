#!/usr/bin/env bash
# check-os.sh — verify this host is a supported target before anything else runs.
# Usage: bash -s -- < check-os.sh        (no arguments)
# Output: "ok: os <ID> <VERSION_ID> <arch>" or "error: ..." on stderr + non-zero exit.
set -euo pipefail

die() { printf 'error: %s\n' "$*" >&2; exit 1; }

if [ "$#" -ne 0 ]; then
  printf 'usage: check-os.sh (takes no arguments)\n' >&2
  exit 2
fi

# Later scripts rely on bash 4 features (associative arrays, mapfile).
if [ "${BASH_VERSINFO[0]}" -lt 4 ]; then
  die "bash ${BASH_VERSION} is too old; install bash >= 4"
fi

kernel="$(uname -s)"
[ "$kernel" = "Linux" ] || die "unsupported kernel '$kernel'; only Linux hosts are supported"

[ -r /etc/os-release ] || die "/etc/os-release not found; only Debian/Ubuntu hosts are supported"

# Source in a subshell so os-release variables cannot clobber ours.
mapfile -t os_fields < <(
  # shellcheck disable=SC1091
  . /etc/os-release && printf '%s\n' "${ID:-}" "${ID_LIKE:-}" "${VERSION_ID:-}"
)
os_id="${os_fields[0]:-}"
os_like="${os_fields[1]:-}"
os_version="${os_fields[2]:-}"

supported=false
for word in $os_id $os_like; do
  case "$word" in
    debian|ubuntu) supported=true ;;
  esac
done
$supported || die "unsupported distribution '${os_id:-unknown}' (ID_LIKE='${os_like}'); use Debian or Ubuntu"

# Docker's apt repo publishes amd64/arm64 builds; prefer dpkg's name, fall back to uname.
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
