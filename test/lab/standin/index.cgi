#!/bin/sh
# index.cgi — /www/cgi-bin/index.cgi in the lab's stand-in. busybox httpd runs it for a
# directory without index.html (it redirects /metrics to /metrics/), so the backend's
# dynamic paths are directories in /www and this routes them to their handlers beside it:
# /metrics (metrics.cgi) and Socket.IO's /socket.io/ (socketio.cgi). Other paths without
# an index get 404.
set -eu

here="${SCRIPT_FILENAME%/*}"
case "${REQUEST_URI:-}" in
  /metrics | /metrics/ | /metrics\?* | /metrics/\?*) exec "$here/metrics.cgi" ;;
  /socket.io/ | /socket.io/\?*) exec "$here/socketio.cgi" ;;
  *) printf 'Status: 404 Not Found\r\nContent-Type: text/plain\r\n\r\nnot found\n' ;;
esac
