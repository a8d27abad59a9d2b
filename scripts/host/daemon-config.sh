#!/usr/bin/env bash
# daemon-config.sh — make /etc/docker/daemon.json exactly the given JSON and apply it.
# Usage: bash -s -- --json '<json>' < daemon-config.sh
#   --json  full desired content of /etc/docker/daemon.json
# Output: "ok:"/"changed:" lines on stdout; "error: ..." on stderr + non-zero exit.
set -euo pipefail

# shellcheck source-path=SCRIPTDIR source=../lib/host-lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/../lib/host-lib.sh"

usage() { printf 'usage: daemon-config.sh --json JSON\n  JSON  full desired content of /etc/docker/daemon.json\n' >&2; exit 2; }

TMP_FILE=""
cleanup() { if [ -n "$TMP_FILE" ]; then rm -f "$TMP_FILE"; fi; }

validate_candidate() {
  local file="$1"
  # Prefer dockerd's own validator (catches unknown keys, bad values); it exists since Docker 23.
  local help="" out
  # Capture first: "dockerd --help | grep -q" can SIGPIPE dockerd and fail under pipefail.
  if command -v dockerd >/dev/null 2>&1; then help="$(dockerd --help 2>&1 || true)"; fi
  if [[ "$help" == *--validate* ]]; then
    if ! out="$(dockerd --validate --config-file "$file" 2>&1)"; then
      die "dockerd rejected the new daemon.json: ${out//$'\n'/ }; fix the JSON passed as --json"
    fi
  elif command -v python3 >/dev/null 2>&1; then
    # Older/absent dockerd: at least refuse syntactically broken JSON.
    python3 -c 'import json,sys; json.load(open(sys.argv[1]))' "$file" 2>/dev/null \
      || die "the new daemon.json is not valid JSON; fix --json"
  fi
}

main() {
  parse_flags "json" "$@"
  require_flags json
  exec </dev/null

  local conf_dir=/etc/docker conf=/etc/docker/daemon.json
  # Normalise exactly one trailing newline on both sides before comparing.
  local desired="${OPT[json]%$'\n'}"
  [ -n "$desired" ] || die "daemon.json content is empty; pass the full JSON object (at least '{}')"
  case "$desired" in
    \{*\}) ;;
    *) die "daemon.json content must be a JSON object starting with '{' and ending with '}'" ;;
  esac

  if [ -f "$conf" ]; then
    local current
    current="$(cat "$conf"; printf x)"   # the x keeps trailing newlines from being stripped
    current="${current%x}"
    if [ "${current%$'\n'}" = "$desired" ]; then
      printf 'ok: daemon.json\n'
      return 0
    fi
  fi

  mkdir -p "$conf_dir"
  local backup=""
  # Temp file in the same directory so the final mv is an atomic rename.
  TMP_FILE="$(mktemp "$conf_dir/.daemon.json.XXXXXX")"
  trap cleanup EXIT
  printf '%s\n' "$desired" >"$TMP_FILE"
  chmod 0644 "$TMP_FILE"
  validate_candidate "$TMP_FILE"

  if [ -e "$conf" ]; then
    backup="$conf.bak.$(date +%s)"
    cp -p "$conf" "$backup"
  fi
  mv -f "$TMP_FILE" "$conf"
  TMP_FILE=""
  printf 'changed: daemon.json%s\n' "${backup:+ (previous saved as $backup)}"

  # Only restart what systemd owns; a hand-started dockerd (lab) is the operator's job.
  if has_systemd && systemctl is-active --quiet docker.service; then
    if systemctl restart docker.service && wait_for_docker 60; then
      printf 'changed: docker restarted to apply daemon.json\n'
      return 0
    fi
    # Roll back so a bad config does not leave the host without a container engine.
    if [ -n "$backup" ]; then cp -p "$backup" "$conf"; else rm -f "$conf"; fi
    systemctl restart docker.service || true
    wait_for_docker 60 || true
    die "docker failed to restart with the new daemon.json (rolled back${backup:+ to $backup}); a key may conflict with dockerd flags in the unit (e.g. 'hosts') — see 'journalctl -u docker'"
  fi
  printf 'changed: daemon.json written; restart dockerd to apply\n'
}

main "$@"
