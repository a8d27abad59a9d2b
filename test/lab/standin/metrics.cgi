#!/bin/sh
# metrics.cgi — the backend's /metrics in the lab's stand-in (index.cgi routes it here).
# Like the real backend (server.ts, in production), it answers only
# `Authorization: Bearer $METRICS_TOKEN`, with the exposition format; anything else gets 401.
set -eu

if [ "${NODE_ENV:-}" = production ] && { [ -z "${METRICS_TOKEN:-}" ] || [ "${HTTP_AUTHORIZATION:-}" != "Bearer ${METRICS_TOKEN}" ]; }; then
  printf 'Status: 401 Unauthorized\r\nContent-Type: text/plain\r\n\r\nunauthorized\n'
  exit 0
fi
printf 'Content-Type: text/plain; version=0.0.4\r\n\r\n'
printf '# TYPE app_info gauge\napp_info{version="standin",environment="%s"} 1\n' "${NODE_ENV:-}"
