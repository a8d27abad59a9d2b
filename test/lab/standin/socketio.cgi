#!/bin/sh
# socketio.cgi — the backend's Socket.IO endpoint (/socket.io/, Engine.IO v4) in the lab's
# stand-in (index.cgi routes it here). It answers a new session's handshake the way the
# real server does, so the lab sees a websocket upgrade reach the backend:
#   transport=websocket: the RFC 6455 handshake (101, Sec-WebSocket-Accept), then the open
#     packet in one text frame; transport=polling: 200 with the open packet.
#   an Origin outside ALLOWED_ORIGINS/FRONTEND_URL (the origins the backend's socket server
#     allows; upstream refuses them in a Socket.IO middleware): 403 here, before any session.
# It keeps no sessions: after the open packet the connection ends (busybox httpd closes it
# when the CGI exits), and a request with a sid gets Engine.IO's "Session ID unknown".
#
# What this relies on in busybox 1.35's httpd (Debian 12's busybox-static, tried on it):
# - every request header reaches the CGI as HTTP_<NAME> (upper case, '-' -> '_'):
#   HTTP_UPGRADE, HTTP_CONNECTION, HTTP_SEC_WEBSOCKET_KEY, HTTP_SEC_WEBSOCKET_VERSION,
#   HTTP_ORIGIN; the query is in QUERY_STRING and REQUEST_URI.
# - output that starts with "HTTP" goes to the client unchanged (nph-style), so the 101
#   status line and the frame bytes after the headers are the CGI's own; "Status: NNN"
#   output becomes "HTTP/1.1 NNN".
set -eu

# RFC 6455 section 1.3: the accept key is base64(sha1(key + this GUID)).
WS_GUID=258EAFA5-E914-47DA-95CA-C5AB0DC85B11
# Engine.IO v4's defaults (pingInterval 25 s, pingTimeout 20 s, maxHttpBufferSize 1e6).
PING_INTERVAL=25000
PING_TIMEOUT=20000
MAX_PAYLOAD=1000000

# Engine.IO's refusal: STATUS, its error CODE and MESSAGE as the JSON body it sends.
refuse() {
  printf 'Status: %s\r\nContent-Type: application/json\r\nConnection: close\r\n\r\n{"code":%s,"message":"%s"}' "$1" "$2" "$3"
  exit 0
}

# The value of query parameter NAME (empty when absent).
param() {
  query="&${QUERY_STRING:-}&"
  case "$query" in
    *"&$1="*)
      value="${query#*"&$1="}"
      printf '%s' "${value%%&*}"
      ;;
  esac
}

lower() { printf '%s' "$1" | tr '[:upper:]' '[:lower:]'; }

# Whether ORIGIN is one the backend allows: ALLOWED_ORIGINS (comma-separated) or FRONTEND_URL.
origin_allowed() {
  rest="${ALLOWED_ORIGINS:-},${FRONTEND_URL:-}"
  while [ -n "$rest" ]; do
    item="${rest%%,*}"
    case "$rest" in *,*) rest="${rest#*,}" ;; *) rest="" ;; esac
    item="${item#"${item%%[! ]*}"}"
    item="${item%"${item##*[! ]}"}"
    if [ -n "$item" ] && [ "$item" = "$1" ]; then return 0; fi
  done
  return 1
}

# One byte, from its decimal VALUE.
byte() { printf '%b' "\\0$(printf '%o' "$1")"; }

# The open packet: "0" and the handshake data, with a new session id (20 characters, as
# Engine.IO's base64id makes them) and the transports this one may upgrade to.
open_packet() {
  sid="$(head -c 15 /dev/urandom | base64 | tr '+/' '-_')"
  printf '0{"sid":"%s","upgrades":%s,"pingInterval":%s,"pingTimeout":%s,"maxPayload":%s}' "$sid" "$1" "$PING_INTERVAL" "$PING_TIMEOUT" "$MAX_PAYLOAD"
}

transport="$(param transport)"
case "$transport" in websocket | polling) ;; *) refuse "400 Bad Request" 0 "Transport unknown" ;; esac
[ "$(param EIO)" = 4 ] || refuse "400 Bad Request" 5 "Unsupported protocol version"
[ -z "$(param sid)" ] || refuse "400 Bad Request" 1 "Session ID unknown"
[ "${REQUEST_METHOD:-}" = GET ] || refuse "400 Bad Request" 2 "Bad handshake method"
origin="${HTTP_ORIGIN:-}"
if [ -n "$origin" ] && ! origin_allowed "$origin"; then refuse "403 Forbidden" 4 "Forbidden"; fi

if [ "$transport" = polling ]; then
  packet="$(open_packet '["websocket"]')"
  printf 'Status: 200 OK\r\nContent-Type: text/plain; charset=UTF-8\r\nContent-Length: %s\r\n' "${#packet}"
  # What the cors option adds for an allowed origin (credentials: true).
  [ -z "$origin" ] || printf 'Access-Control-Allow-Origin: %s\r\nAccess-Control-Allow-Credentials: true\r\nVary: Origin\r\n' "$origin"
  printf '\r\n%s' "$packet"
  exit 0
fi

# The upgrade as Node's HTTP parser and ws check it: Connection has the "upgrade" token,
# Upgrade is websocket, version 13, and the key is 16 bytes in base64 (22 characters and "==").
connection=",$(lower "${HTTP_CONNECTION:-}" | tr -d ' \t'),"
case "$connection" in *,upgrade,*) ;; *) refuse "400 Bad Request" 3 "Bad request" ;; esac
[ "$(lower "${HTTP_UPGRADE:-}")" = websocket ] || refuse "400 Bad Request" 3 "Bad request"
[ "${HTTP_SEC_WEBSOCKET_VERSION:-}" = 13 ] || refuse "400 Bad Request" 3 "Bad request"
key="${HTTP_SEC_WEBSOCKET_KEY:-}"
case "$key" in
  *[!+/0-9A-Za-z=]* | "") refuse "400 Bad Request" 3 "Bad request" ;;
esac
case "${key%==}" in *=*) refuse "400 Bad Request" 3 "Bad request" ;; esac
if [ "${#key}" -ne 24 ] || [ "${key%==}" = "$key" ]; then refuse "400 Bad Request" 3 "Bad request"; fi

accept="$(printf '%s%s' "$key" "$WS_GUID" | sha1sum | cut -c1-40 | xxd -r -p | base64)"
packet="$(open_packet '[]')"
printf 'HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: %s\r\n\r\n' "$accept"
# One unmasked text frame (FIN + opcode 1 = 0x81), the length in 7 bits or, from 126 on, 16.
byte 129
length="${#packet}"
if [ "$length" -lt 126 ]; then
  byte "$length"
else
  byte 126
  byte $((length / 256))
  byte $((length % 256))
fi
printf '%s' "$packet"
