#!/bin/sh
# Stand-in for Prisma's native schema-engine, whose download is impossible offline or behind a firewall.
# `prisma generate` only checks that the file exists; migrations run through scripts/migrate.ts (WASM engine).
[ "$1" = "--version" ] && { echo "schema-engine-cli offline-stub"; exit 0; }
echo "native schema-engine not available offline: use 'npm run db:migrate' / 'npm run db:migrate:create -- <name>'" >&2
exit 1
