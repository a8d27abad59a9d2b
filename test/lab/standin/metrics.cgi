#!/bin/sh
# metrics.cgi — /www/cgi-bin/index.cgi in the lab's stand-in. busybox httpd sends /metrics
# to /metrics/ and runs this for it (no index.html there). Like the real backend
# (server.ts, in production), it answers only `Authorization: Bearer $METRICS_TOKEN`, with
# the exposition format; anything else gets 401. Other paths without an index get 404.
set -eu

case "${REQUEST_URI:-}" in
  /metrics | /metrics/ | /metrics\?* | /metrics/\?*) ;;
  *) printf 'Status: 404 Not Found\r\nContent-Type: text/plain\r\n\r\nnot found\n'; exit 0 ;;
esac
if [ "${NODE_ENV:-}" = production ] && { [ -z "${METRICS_TOKEN:-}" ] || [ "${HTTP_AUTHORIZATION:-}" != "Bearer ${METRICS_TOKEN}" ]; }; then
  printf 'Status: 401 Unauthorized\r\nContent-Type: text/plain\r\n\r\nunauthorized\n'
  exit 0
fi
printf 'Content-Type: text/plain; version=0.0.4\r\n\r\n'
printf '# TYPE app_info gauge\napp_info{version="standin",environment="%s"} 1\n' "${NODE_ENV:-}"
