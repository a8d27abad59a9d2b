#!/usr/bin/env bash
# sshd-sessions.sh — let sshd multiplex enough sessions over one connection (managers only).
# Usage: bash -s -- --max-sessions N < sshd-sessions.sh
#   --max-sessions  sshd's MaxSessions (10-1000). The docker provider reaches the leader's engine
#                 through one SSH ControlMaster connection; every API call in flight is a
#                 session on it, and past sshd's default of 10 the client falls back to new
#                 connections, which MaxStartups (10:30:100) then drops at random.
# Writes /etc/ssh/sshd_config.d/50-medianest.conf (only the MaxSessions line), checks the whole
# configuration with `sshd -t` (a bad file is removed again: a broken sshd locks everyone out),
# and reloads sshd (systemd, else SIGHUP to /run/sshd.pid).
# Output: "ok:"/"changed:" lines on stdout; "error: ..." on stderr + non-zero exit.
set -euo pipefail

# shellcheck source-path=SCRIPTDIR source=../lib/host-lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/../lib/host-lib.sh"

DROP_IN_DIR=/etc/ssh/sshd_config.d
DROP_IN="$DROP_IN_DIR/50-medianest.conf"
MAIN_CONFIG=/etc/ssh/sshd_config

usage() { printf 'usage: sshd-sessions.sh --max-sessions N\n' >&2; exit 2; }

sshd_bin() {
  local candidate
  for candidate in /usr/sbin/sshd /usr/bin/sshd; do
    if [ -x "$candidate" ]; then printf '%s' "$candidate"; return 0; fi
  done
  die "sshd not found; this step configures OpenSSH's server, which the host must run"
}

# The value sshd would use (first match wins in sshd_config; -T prints the effective one).
effective_max_sessions() {
  "$1" -T -C user=root,host=localhost,addr=127.0.0.1 2>/dev/null | awk '$1 == "maxsessions" { print $2 }'
}

reload_sshd() {
  if [ -d /run/systemd/system ] && command -v systemctl >/dev/null 2>&1; then
    local unit
    for unit in ssh sshd; do
      if systemctl is-active --quiet "$unit"; then
        systemctl reload "$unit" || die "'systemctl reload $unit' failed; run it by hand to see why"
        printf 'changed: reloaded %s\n' "$unit"
        return 0
      fi
    done
  fi
  if [ -f /run/sshd.pid ] && kill -0 "$(cat /run/sshd.pid)" 2>/dev/null; then
    kill -HUP "$(cat /run/sshd.pid)"
    printf 'changed: sent SIGHUP to sshd (pid %s)\n' "$(cat /run/sshd.pid)"
    return 0
  fi
  printf 'changed: sshd is not running under systemd nor in /run/sshd.pid; restart it to apply MaxSessions\n'
}

main() {
  parse_flags "max-sessions" "$@"
  require_flags max-sessions
  local max="${OPT[max-sessions]}"
  if ! [[ "$max" =~ ^[0-9]{2,4}$ ]] || (( 10#$max < 10 || 10#$max > 1000 )); then
    bad_arg "--max-sessions '$max' must be a whole number between 10 and 1000"
  fi
  max=$((10#$max))
  exec </dev/null

  local sshd
  sshd="$(sshd_bin)"
  [ -f "$MAIN_CONFIG" ] || die "$MAIN_CONFIG not found"
  grep -Eqi '^[[:space:]]*Include[[:space:]]+/etc/ssh/sshd_config\.d/\*\.conf' "$MAIN_CONFIG" \
    || die "$MAIN_CONFIG does not include $DROP_IN_DIR/*.conf (Debian and Ubuntu do by default); add 'Include $DROP_IN_DIR/*.conf' at its top, or set medianest:hostSetup.sshdMaxSessions to false and raise MaxSessions yourself"

  local desired current
  desired="$(printf '# Managed by medianest-infra: the docker provider multiplexes its API calls over one SSH connection.\nMaxSessions %s\n' "$max")"
  current="$(effective_max_sessions "$sshd")"
  if [ -f "$DROP_IN" ] && [ "$(cat "$DROP_IN")" = "$desired" ] && [ "$current" = "$max" ]; then
    printf 'ok: sshd MaxSessions %s\n' "$max"
    return 0
  fi

  mkdir -p "$DROP_IN_DIR"
  local backup=""
  if [ -f "$DROP_IN" ]; then backup="$(mktemp "$DROP_IN_DIR/.50-medianest.conf.XXXXXX")"; cp -p "$DROP_IN" "$backup"; fi
  printf '%s\n' "$desired" >"$DROP_IN.tmp"
  chmod 0644 "$DROP_IN.tmp"
  mv -f "$DROP_IN.tmp" "$DROP_IN"
  local err
  if ! err="$("$sshd" -t 2>&1)"; then
    if [ -n "$backup" ]; then mv -f "$backup" "$DROP_IN"; else rm -f "$DROP_IN"; fi
    die "sshd rejects the configuration with $DROP_IN (${err//$'\n'/ }); the file was put back as it was"
  fi
  if [ -n "$backup" ]; then rm -f "$backup"; fi
  current="$(effective_max_sessions "$sshd")"
  [ "$current" = "$max" ] \
    || die "sshd's effective MaxSessions is '$current', not $max: an earlier line in $MAIN_CONFIG or another drop-in sets it first; remove that line"
  printf 'changed: sshd MaxSessions %s (%s)\n' "$max" "$DROP_IN"
  reload_sshd
}

main "$@"
