#!/bin/sh
# npx.sh — `/usr/local/bin/npx` in the lab's stand-in image. It answers exactly the app
# contract's migration command (`npx prisma migrate deploy`, domain/app-contract.ts) the way
# the real one depends on its input: it needs DATABASE_URL, a postgresql:// URL without any
# of the words the app refuses (/app/contract/forbidden-words, from the contract). It prints when it ran, so the lab can order it against the
# backend's tasks. Anything else exits 2.
set -eu

if [ "$*" != "prisma migrate deploy" ]; then
  echo "npx stand-in: only 'npx prisma migrate deploy' is supported, not: $*" >&2
  exit 2
fi
url="${DATABASE_URL:-}"
case "$url" in
  postgresql://*) ;;
  "") echo "npx stand-in: DATABASE_URL is not set" >&2; exit 1 ;;
  *) echo "npx stand-in: DATABASE_URL is not a postgresql:// URL" >&2; exit 1 ;;
esac
lower="$(printf '%s' "$url" | tr '[:upper:]' '[:lower:]')"
while read -r word; do
  case "$lower" in
    *"$word"*) echo "npx stand-in: DATABASE_URL contains '$word', which the app refuses" >&2; exit 1 ;;
  esac
done </app/contract/forbidden-words
echo "medianest-standin: migrations applied at $(date +%s)"
