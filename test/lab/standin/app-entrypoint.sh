#!/bin/sh
# app-entrypoint.sh — /app/docker-entrypoint.sh in the lab's stand-in image. It starts the
# way the real MediaNest images do and refuses to start the way the real app would: it
# exports the secret files the image's own entrypoint exports, checks what the app requires
# in production (lengths, forbidden words), then serves /www on $PORT. The lists come from the app
# contract (domain/app-contract.ts), rendered per port into /app/contract/ when the image
# is built: PORT.exports ("FILE VAR" lines), PORT.requires ("VAR MINLEN FORBIDDEN" lines)
# and forbidden-words.
set -eu

# Prints the first forbidden word VALUE contains (case-insensitive); fails when none.
refused_word() {
  lower="$(printf '%s' "$1" | tr '[:upper:]' '[:lower:]')"
  while read -r word; do
    case "$lower" in *"$word"*) printf '%s' "$word"; return 0 ;; esac
  done </app/contract/forbidden-words
  return 1
}

port="${PORT:-3000}"
dir=/app/contract
if [ -f "$dir/$port.exports" ]; then
  while read -r file var; do
    if [ -f "/run/secrets/$file" ]; then
      value="$(cat "/run/secrets/$file")"
      export "$var=$value"
    fi
  done <"$dir/$port.exports"
fi
# The app applies its production rules only with NODE_ENV=production (as the program sets).
if [ "${NODE_ENV:-}" = production ] && [ -f "$dir/$port.requires" ]; then
  while read -r var min forbidden; do
    # busybox has no printenv; the names come from the contract (checked to be identifiers).
    case "$var" in *[!A-Za-z0-9_]* | "") echo "medianest-standin: bad variable name '$var'" >&2; exit 2 ;; esac
    eval "value=\${$var:-}"
    if [ -z "$value" ]; then
      echo "medianest-standin: $var is required and not set" >&2
      exit 1
    fi
    if [ "${#value}" -lt "$min" ]; then
      echo "medianest-standin: $var is shorter than $min characters" >&2
      exit 1
    fi
    if [ "$forbidden" = 1 ] && word="$(refused_word "$value")"; then
      echo "medianest-standin: $var contains '$word', which the app refuses in production" >&2
      exit 1
    fi
  done <"$dir/$port.requires"
fi
exec httpd -f -p "$port" -h /www
