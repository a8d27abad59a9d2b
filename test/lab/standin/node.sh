#!/bin/sh
# node.sh — `/usr/local/bin/node` in the lab's stand-in image (busybox, no Node.js).
# It understands exactly the health check the program generates (nodeHealth in
# topology/services.ts):
#   node -e "require('http').get('URL',r=>process.exit(r.statusCode<400?0:1)).on('error',()=>process.exit(1))"
# and answers it with busybox wget. Anything else exits 2 with a message, so a changed
# health check shows up as an unhealthy task instead of passing by accident.
set -eu

prefix="require('http').get('"
suffix="',r=>process.exit(r.statusCode<400?0:1)).on('error',()=>process.exit(1))"

if [ "$#" -ne 2 ] || [ "$1" != "-e" ]; then
  echo "node stand-in: only 'node -e <the program's health check>' is supported" >&2
  exit 2
fi
case "$2" in
  "$prefix"*"$suffix") ;;
  *) echo "node stand-in: not the program's health check: $2" >&2; exit 2 ;;
esac
url="${2#"$prefix"}"
url="${url%"$suffix"}"
case "$url" in
  http://*) ;;
  *) echo "node stand-in: not an http:// URL: $url" >&2; exit 2 ;;
esac
case "$url" in
  *"'"*|*" "*) echo "node stand-in: unexpected characters in URL: $url" >&2; exit 2 ;;
esac
# busybox wget exits non-zero on connection errors and HTTP status >= 400.
exec timeout 4 wget -q -O /dev/null "$url"
