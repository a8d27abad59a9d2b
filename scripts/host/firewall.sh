#!/usr/bin/env bash
# firewall.sh — restrict Docker Swarm control/data ports to cluster peers and keep
# container-published ports reachable only on the declared public ports (iptables, IPv4).
#
# Usage: bash -s -- [--no-persist] --self ADDR --role manager|worker --peers A,B,C \
#          --managers A,B --encrypted true|false --public-ports 80,443 --trusted CIDR,CIDR < firewall.sh
#   --self          this host's cluster address (must be in --peers)
#   --role          this node's swarm role
#   --peers         every cluster node address, including self (include data-path addresses too)
#   --managers      manager addresses (subset of --peers; checked against --role)
#   --encrypted     true when overlay networks are encrypted (allows ESP from peers)
#   --public-ports  ports published to everyone, comma-separated; may be ""
#   --trusted       extra source CIDRs allowed to reach every published port; may be ""
#   --no-persist    apply rules only; do not install the boot-time copy/unit (used by that unit)
#
# Chains: MEDIANEST-SWARM (first rule of INPUT) and MEDIANEST-PUBLISHED (first rule of
# DOCKER-USER; published ports are DNATed and traverse FORWARD, never INPUT).
# Output: "ok:"/"changed:" lines on stdout; "error: ..." on stderr + non-zero exit.
set -euo pipefail

# shellcheck source-path=SCRIPTDIR source=../lib/host-lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/../lib/host-lib.sh"

# Every piece of code is a function (ours are fw_*, the rest host-lib's): `bash -s` must
# read the whole script before running it, and the boot-time copy is regenerated from these
# definitions (declare -f) because a script fed over stdin has no file to copy.

usage() {
  cat >&2 <<'USAGE'
usage: firewall.sh [--no-persist] --self ADDR --role manager|worker --peers A,B,C
                   --managers A,B --encrypted true|false --public-ports P,P --trusted CIDR,CIDR
  --public-ports and --trusted are required but may be empty strings.
USAGE
  exit 2
}


# Strict dotted quad: no leading zeros, which inet_aton would read as octal.
fw_is_ipv4() {
  local o='(25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])'
  [[ "$1" =~ ^$o\.$o\.$o\.$o$ ]]
}

fw_is_cidr() {
  local addr="${1%/*}" len
  if [ "$addr" = "$1" ]; then fw_is_ipv4 "$1"; return; fi
  len="${1##*/}"
  fw_is_ipv4 "$addr" && [[ "$len" =~ ^(3[0-2]|[12]?[0-9])$ ]]
}

# fw_split LIST -> one non-empty item per line, whitespace removed.
fw_split() {
  local item
  local -a items=()
  IFS=, read -r -a items <<<"$1"
  for item in "${items[@]}"; do
    item="${item//[[:space:]]/}"
    if [ -n "$item" ]; then printf '%s\n' "$item"; fi
  done
}

# Sorted + de-duplicated, so list order in the config never causes rule churn.
fw_sort_addrs() { LC_ALL=C sort -t. -k1,1n -k2,2n -k3,3n -k4,4n | uniq; }
fw_sort_ports() { LC_ALL=C sort -u -n; }

fw_join() { local IFS=,; printf '%s' "$*"; }

fw_contains() {
  local needle="$1" x; shift
  for x in "$@"; do [ "$x" = "$needle" ] && return 0; done
  return 1
}

fw_swarm_rules() {
  local p vxlan=ACCEPT
  # With encrypted overlays Docker judges VXLAN itself: for each encrypted network it appends
  # to INPUT an ACCEPT for IPsec-decrypted VXLAN of that network and a DROP for plain VXLAN
  # of it (moby/libnetwork drivers/overlay/encryption.go programInput, iptables.Append, as
  # fixed for CVE-2023-28840).
  # An ACCEPT here, ahead of those, would let a forged plain packet from a peer's address
  # into an encrypted network; a peer's VXLAN therefore goes on to Docker's rules.
  if [ "$FW_ENCRYPTED" = true ]; then vxlan=RETURN; fi
  for p in "${FW_PEERS[@]}"; do
    printf -- '-s %s -p tcp --dport 7946 -j ACCEPT\n' "$p"
    printf -- '-s %s -p udp --dport 7946 -j ACCEPT\n' "$p"
    printf -- '-s %s -p udp --dport 4789 -j %s\n' "$p" "$vxlan"
    # Only managers listen on 2377 (raft + node dispatch); workers dial out to it.
    if [ "$FW_ROLE" = manager ]; then printf -- '-s %s -p tcp --dport 2377 -j ACCEPT\n' "$p"; fi
    # Encrypted overlays carry VXLAN inside IPsec ESP (IP protocol 50).
    if [ "$FW_ENCRYPTED" = true ]; then printf -- '-s %s -p esp -j ACCEPT\n' "$p"; fi
  done
  # Nobody else may reach swarm control/gossip/VXLAN; everything else falls through (implied RETURN).
  printf -- '-p tcp --dport 2377 -j DROP\n'
  printf -- '-p tcp --dport 7946 -j DROP\n'
  printf -- '-p udp --dport 7946 -j DROP\n'
  printf -- '-p udp --dport 4789 -j DROP\n'
}

fw_published_rules() {
  local s port
  printf -- '-m conntrack --ctstate ESTABLISHED,RELATED -j RETURN\n'
  # Containers reaching this host's published ports (hairpin) are local, not "outside".
  printf -- '-i docker0 -j RETURN\n'
  printf -- '-i docker_gwbridge -j RETURN\n'
  printf -- '-i br-+ -j RETURN\n'
  for s in "${FW_PEERS[@]}" "${FW_TRUSTED[@]}"; do
    printf -- '-s %s -j RETURN\n' "$s"
  done
  for port in "${FW_PUBLIC_PORTS[@]}"; do
    # conntrack's original port: after DNAT the packet's own dport is the container port.
    printf -- '-p tcp -m conntrack --ctorigdstport %s -j RETURN\n' "$port"
    # HTTP/3 (QUIC) runs over UDP 443.
    if [ "$port" = 443 ]; then printf -- '-p udp -m conntrack --ctorigdstport %s -j RETURN\n' "$port"; fi
  done
  # Anything else that was DNATed reached a published port from outside, on any of this
  # host's addresses; container egress is never DNATed, so it is unaffected.
  printf -- '-m conntrack --ctstate DNAT -j DROP\n'
}

# Feed "*filter" restore input: declaring ":CHAIN - [0:0]" under --noflush creates or
# flushes just that chain, and the whole block is applied atomically.
fw_restore_chain() {
  local chain="$1" rule; shift
  {
    printf '*filter\n:%s - [0:0]\n' "$chain"
    for rule in "$@"; do printf -- '-A %s %s\n' "$chain" "$rule"; done
    printf 'COMMIT\n'
  } | iptables-restore -w --noflush
}

# Print the rules as iptables itself would list them (-S), by loading them into a scratch
# chain; this avoids guessing iptables' normalisation (/32 suffixes, implicit -m tcp, ...).
fw_canonical() {
  local chain="$1"; shift
  FW_SCRATCH="MN-CANON-$$"
  fw_restore_chain "$FW_SCRATCH" "$@" \
    || die "iptables rejected a generated rule for $chain; check the arguments (addresses/ports)"
  iptables -w -S "$FW_SCRATCH" | sed -n "s/^-A $FW_SCRATCH /-A $chain /p"
  fw_drop_scratch
}

fw_drop_scratch() {
  if [ -n "${FW_SCRATCH:-}" ]; then
    iptables -w -F "$FW_SCRATCH" 2>/dev/null || true
    iptables -w -X "$FW_SCRATCH" 2>/dev/null || true
    FW_SCRATCH=""
  fi
}

fw_sync_chain() {
  local chain="$1"; shift
  local want have
  want="$(fw_canonical "$chain" "$@")"
  have="$(iptables -w -S "$chain" 2>/dev/null | grep '^-A ' || true)"
  if iptables -w -S "$chain" >/dev/null 2>&1 && [ "$want" = "$have" ]; then
    printf 'ok: chain %s\n' "$chain"
    return 0
  fi
  fw_restore_chain "$chain" "$@" || die "could not load chain $chain with iptables-restore"
  printf 'changed: chain %s (%d rules)\n' "$chain" "$#"
}

# Ensure "-A PARENT -j CHAIN" exists exactly once and is PARENT's first rule.
fw_sync_jump() {
  local parent="$1" chain="$2"
  local want="-A $parent -j $chain"
  local -a rules=()
  mapfile -t rules < <(iptables -w -S "$parent" | grep '^-A ' || true)
  local count=0 r
  for r in "${rules[@]}"; do [ "$r" = "$want" ] && count=$((count + 1)); done
  if [ "$count" -eq 1 ] && [ "${rules[0]}" = "$want" ]; then
    printf 'ok: jump %s -> %s\n' "$parent" "$chain"
    return 0
  fi
  local i
  for (( i = 0; i < count; i++ )); do iptables -w -D "$parent" -j "$chain"; done
  iptables -w -I "$parent" 1 -j "$chain"
  printf 'changed: jump %s -> %s\n' "$parent" "$chain"
}

# Write CONTENT to PATH with MODE only if content or mode differ (atomic rename).
fw_install_file() {
  local path="$1" mode="$2" content="$3" label="$4" tmp
  if [ -f "$path" ] && [ "$(cat "$path"; printf x)" = "${content}x" ]; then
    if [ "$(stat -c '%a' "$path")" = "${mode#0}" ]; then
      printf 'ok: %s\n' "$label"
    else
      chmod "$mode" "$path"
      printf 'changed: %s (mode)\n' "$label"
    fi
    return 1
  fi
  mkdir -p "$(dirname "$path")"
  tmp="$(mktemp "$(dirname "$path")/.medianest.XXXXXX")"
  printf '%s' "$content" >"$tmp"
  chmod "$mode" "$tmp"
  mv -f "$tmp" "$path"
  printf 'changed: %s\n' "$label"
}

# The boot-time copy, rebuilt from this process's own function definitions.
fw_render_self() {
  local f
  printf '#!/usr/bin/env bash\n'
  printf '# MediaNest firewall, installed by scripts/host/firewall.sh (generated; do not edit).\n'
  printf '# Run by medianest-firewall.service with --no-persist and /etc/medianest/firewall.args.\n'
  printf 'set -euo pipefail\n\ndeclare -A OPT=()\n\n'
  for f in $(declare -F | awk '{print $3}'); do
    declare -f "$f"
    printf '\n'
  done
  printf 'fw_main "$@"\n'
}

fw_persist() {
  local lib=/usr/local/lib/medianest/firewall.sh
  local args_file=/etc/medianest/firewall.args
  local unit=/etc/systemd/system/medianest-firewall.service
  local args unit_text unit_changed=false

  fw_install_file "$lib" 0755 "$(fw_render_self)"$'\n' "boot copy $lib" || true

  # Fixed order, one value per line (empty values stay as empty lines).
  args="$(printf '%s\n' \
    --self "$FW_SELF" --role "$FW_ROLE" --peers "$FW_PEERS_RAW" --managers "$FW_MANAGERS_RAW" \
    --encrypted "$FW_ENCRYPTED" --public-ports "$FW_PUBLIC_RAW" --trusted "$FW_TRUSTED_RAW")"$'\n'
  fw_install_file "$args_file" 0644 "$args" "args $args_file" || true

  unit_text="[Unit]
Description=MediaNest swarm firewall (iptables chains MEDIANEST-SWARM, MEDIANEST-PUBLISHED)
# After docker so DOCKER-USER exists and our jump stays first in it.
After=docker.service
ConditionPathExists=$args_file

[Service]
Type=oneshot
RemainAfterExit=yes
ExecStart=/bin/bash -c 'mapfile -t a < $args_file && exec $lib --no-persist \"\$\${a[@]}\"'

[Install]
WantedBy=multi-user.target
"
  if fw_install_file "$unit" 0644 "$unit_text" "unit $unit"; then unit_changed=true; fi
  if $unit_changed; then systemctl daemon-reload; fi

  if systemctl is-enabled --quiet medianest-firewall.service 2>/dev/null; then
    printf 'ok: medianest-firewall.service enabled\n'
  else
    systemctl enable medianest-firewall.service >/dev/null 2>&1 \
      || die "could not enable medianest-firewall.service; check 'systemctl status medianest-firewall.service'"
    printf 'changed: medianest-firewall.service enabled\n'
  fi
}

fw_parse_args() {
  parse_flags "no-persist! self role peers managers encrypted public-ports trusted" "$@"
  require_flags self role peers managers encrypted public-ports trusted
  FW_PERSIST=true
  if [ -n "${OPT[no-persist]:-}" ]; then FW_PERSIST=false; fi
  FW_SELF="${OPT[self]}" FW_ROLE="${OPT[role]}" FW_PEERS_RAW="${OPT[peers]}" FW_MANAGERS_RAW="${OPT[managers]}"
  FW_ENCRYPTED="${OPT[encrypted]}" FW_PUBLIC_RAW="${OPT[public-ports]}" FW_TRUSTED_RAW="${OPT[trusted]}"
  local flag
  for flag in self role peers managers encrypted public-ports trusted; do
    [[ "${OPT[$flag]}" != *$'\n'* ]] || bad_arg "the value of --$flag must not contain a line break"
  done

  fw_is_ipv4 "$FW_SELF" || die "--self '$FW_SELF' is not an IPv4 address"
  [[ "$FW_ROLE" =~ ^(manager|worker)$ ]] || die "--role must be 'manager' or 'worker', got '$FW_ROLE'"
  [[ "$FW_ENCRYPTED" =~ ^(true|false)$ ]] || die "--encrypted must be 'true' or 'false', got '$FW_ENCRYPTED'"

  local x
  mapfile -t FW_PEERS < <(fw_split "$FW_PEERS_RAW" | fw_sort_addrs)
  [ "${#FW_PEERS[@]}" -gt 0 ] || die "--peers is empty; list every cluster node address including this host"
  for x in "${FW_PEERS[@]}"; do fw_is_ipv4 "$x" || die "--peers entry '$x' is not an IPv4 address"; done
  fw_contains "$FW_SELF" "${FW_PEERS[@]}" || die "--self $FW_SELF is not in --peers; include this host's address"

  mapfile -t FW_MANAGERS < <(fw_split "$FW_MANAGERS_RAW" | fw_sort_addrs)
  [ "${#FW_MANAGERS[@]}" -gt 0 ] || die "--managers is empty; a swarm needs at least one manager"
  for x in "${FW_MANAGERS[@]}"; do
    fw_is_ipv4 "$x" || die "--managers entry '$x' is not an IPv4 address"
    fw_contains "$x" "${FW_PEERS[@]}" || die "--managers entry $x is not in --peers"
  done
  if fw_contains "$FW_SELF" "${FW_MANAGERS[@]}"; then
    [ "$FW_ROLE" = manager ] || die "--self $FW_SELF is listed in --managers but --role is worker; make them agree"
  else
    [ "$FW_ROLE" = worker ] || die "--role is manager but --self $FW_SELF is not in --managers; make them agree"
  fi

  mapfile -t FW_PUBLIC_PORTS < <(fw_split "$FW_PUBLIC_RAW" | fw_sort_ports)
  for x in "${FW_PUBLIC_PORTS[@]}"; do
    if ! [[ "$x" =~ ^[1-9][0-9]{0,4}$ ]] || (( x > 65535 )); then
      die "--public-ports entry '$x' is not a port number 1-65535"
    fi
  done

  mapfile -t FW_TRUSTED < <(fw_split "$FW_TRUSTED_RAW" | fw_sort_addrs)
  for x in "${FW_TRUSTED[@]}"; do
    fw_is_cidr "$x" || die "--trusted entry '$x' is not an IPv4 address or CIDR (e.g. 192.168.10.0/24)"
  done

  # Canonical forms for the persisted args file (stable regardless of input order).
  FW_PEERS_RAW="$(fw_join "${FW_PEERS[@]}")"
  FW_MANAGERS_RAW="$(fw_join "${FW_MANAGERS[@]}")"
  FW_PUBLIC_RAW="$(fw_join "${FW_PUBLIC_PORTS[@]}")"
  FW_TRUSTED_RAW="$(fw_join "${FW_TRUSTED[@]}")"
}

fw_main() {
  FW_SELF="" FW_ROLE="" FW_PEERS_RAW="" FW_MANAGERS_RAW="" FW_ENCRYPTED="" FW_PUBLIC_RAW="" FW_TRUSTED_RAW=""
  FW_PEERS=() FW_MANAGERS=() FW_PUBLIC_PORTS=() FW_TRUSTED=() FW_SCRATCH=""
  fw_parse_args "$@"
  exec </dev/null

  if ! command -v iptables >/dev/null 2>&1 || ! command -v iptables-restore >/dev/null 2>&1; then
    die "iptables/iptables-restore not found; install the 'iptables' package (Docker needs it too)"
  fi
  trap fw_drop_scratch EXIT

  local -a rules=()
  mapfile -t rules < <(fw_swarm_rules)
  fw_sync_chain MEDIANEST-SWARM "${rules[@]}"
  mapfile -t rules < <(fw_published_rules)
  fw_sync_chain MEDIANEST-PUBLISHED "${rules[@]}"

  fw_sync_jump INPUT MEDIANEST-SWARM
  # Docker leaves an existing DOCKER-USER chain alone and hooks it into FORWARD when it starts.
  if iptables -w -S DOCKER-USER >/dev/null 2>&1; then
    printf 'ok: chain DOCKER-USER exists\n'
  else
    iptables -w -N DOCKER-USER
    printf 'changed: chain DOCKER-USER created\n'
  fi
  fw_sync_jump DOCKER-USER MEDIANEST-PUBLISHED

  if ! $FW_PERSIST; then return 0; fi
  if ! has_systemd; then
    printf 'ok: boot persistence skipped (systemd absent)\n'
    return 0
  fi
  fw_persist
}

fw_main "$@"
