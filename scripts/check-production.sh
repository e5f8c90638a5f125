#!/usr/bin/env bash
# The production image's layout without a Docker engine: what the Dockerfile's final stage holds (dist/, prisma/,
# production packages installed as it installs them), checked to carry no TypeScript tooling, then migrated and
# started on a fresh Postgres database and Redis prefix, answering /ready and a publish. Everything it makes is
# removed at the end. `npm run check:production`; needs Postgres and Redis as the tests do.
set -euo pipefail
cd "$(dirname "$0")/.."
postgres="${CHECK_POSTGRES_URL:-postgresql://postgres@127.0.0.1:5432}"
redis_url="${REDIS_URL:-redis://127.0.0.1:6379}"
dir="$(mktemp -d)"
database="jackdaw_prodcheck_$RANDOM$RANDOM"
prefix="prodcheck:$RANDOM:"
key="prodcheck-admin-$(node -p 'crypto.randomUUID()')"
server=""
cleanup() {
  [ -n "$server" ] && kill "$server" 2>/dev/null && wait "$server" 2>/dev/null || true
  psql "$postgres/postgres" -qc "DROP DATABASE IF EXISTS \"$database\" WITH (FORCE)" >/dev/null 2>&1 || true
  redis-cli -u "$redis_url" --scan --pattern "$prefix*" | xargs -r redis-cli -u "$redis_url" del >/dev/null || true
  rm -rf "$dir"
}
trap cleanup EXIT

npm run build >/dev/null
cp -r package.json package-lock.json dist prisma public "$dir/"
(cd "$dir" && npm ci --omit=dev --omit=optional --ignore-scripts --no-audit --no-fund --loglevel=error >/dev/null)
for tool in tsx typescript prisma @biomejs vitest; do
  if [ -e "$dir/node_modules/$tool" ]; then echo "FAIL: $tool is in the production packages"; exit 1; fi
done
echo "production packages: $(ls "$dir/node_modules" | wc -l) top-level, $(du -sh "$dir/node_modules" | cut -f1); no tsx, typescript, prisma CLI, biome or vitest"

psql "$postgres/postgres" -qc "CREATE DATABASE \"$database\"" >/dev/null
(cd "$dir" && DATABASE_URL="$postgres/$database" node dist/migrate.js deploy)
port=$(node -e 'const s=require("net").createServer().listen(0,()=>{console.log(s.address().port);s.close()})')
(cd "$dir" && NODE_ENV=production PORT="$port" HOST=127.0.0.1 DATABASE_URL="$postgres/$database" REDIS_URL="$redis_url" \
  REDIS_KEY_PREFIX="$prefix" ADMIN_API_KEY="$key" LOG_LEVEL=warn exec node --enable-source-maps dist/main.js) &
server=$!
for _ in $(seq 1 60); do curl -sf "http://127.0.0.1:$port/ready" >/dev/null && break; sleep 1; done
curl -sf "http://127.0.0.1:$port/ready" >/dev/null || { echo "FAIL: not ready"; exit 1; }
answer=$(curl -s "http://127.0.0.1:$port/graphql" -H "authorization: Bearer $key" -H 'content-type: application/json' \
  -d '{"query":"mutation { publishEvent(input: {type: PERFORMANCE_METRIC, data: {metric_name: \"check\", value: 1}}) { id } }"}')
echo "$answer" | grep -q '"publishEvent":{"id"' || { echo "FAIL: publish answered $answer"; exit 1; }
for asset in / /status/status.js /status/vendor/uPlot.iife.min.js /status/vendor/graphql-ws.min.js; do
  curl -sf -o /dev/null "http://127.0.0.1:$port$asset" || { echo "FAIL: the status page's $asset is not served"; exit 1; }
done
echo "OK: migrated, started (node dist/main.js, NODE_ENV=production), ready, published"
