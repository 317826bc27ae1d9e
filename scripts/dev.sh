#!/usr/bin/env bash
# Runs the relay locally on workerd (wrangler dev) with local D1, R2 and Queues,
# a demo endpoint, and a local echo destination that prints each delivery.
# Installs what is missing first. Ctrl-C stops everything.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh

export PATH="$PWD/node_modules/.bin:$PATH"
export CLOUDFLARE_CF_FETCH_ENABLED=false WRANGLER_SEND_METRICS=false
PORT="${PORT:-8787}"
ECHO_PORT="${ECHO_PORT:-8788}"
STATE_DIR="${STATE_DIR:-.wrangler/state}"
DEMO_FILE="$STATE_DIR/demo-endpoint.env"
mkdir -p "$STATE_DIR"

if [ ! -f .dev.vars ]; then
  printf 'ADMIN_TOKEN=%s\nALLOW_PRIVATE_DESTINATIONS=true\nLOG_EACH_WEBHOOK=true\n' "$(openssl rand -hex 24)" > .dev.vars
  echo "[dev] wrote .dev.vars with a new random ADMIN_TOKEN"
fi
ADMIN_TOKEN="$(sed -n 's/^ADMIN_TOKEN=//p' .dev.vars)"

bash scripts/migrate.sh --local --persist-to "$STATE_DIR" >/dev/null
echo "[dev] migrations applied to every shard in $STATE_DIR"

pids=()
cleanup() { for pid in "${pids[@]+"${pids[@]}"}"; do kill -- -"$pid" 2>/dev/null || kill "$pid" 2>/dev/null || true; done; }
trap cleanup EXIT INT TERM

setsid wrangler dev --local --ip 127.0.0.1 --port "$PORT" --persist-to "$STATE_DIR" &
pids+=($!)
api() { curl -fsS -H "authorization: Bearer $ADMIN_TOKEN" -H 'content-type: application/json' "$@"; }
for _ in $(seq 1 180); do curl -fsS "http://127.0.0.1:$PORT/" >/dev/null 2>&1 && break; sleep 1; done

# One demo endpoint per state directory: GitHub-style signatures, delivering to the echo destination.
if [ -f "$DEMO_FILE" ]; then . "$DEMO_FILE"; fi
if [ -z "${DEMO_ID:-}" ] || ! api "http://127.0.0.1:$PORT/api/v1/endpoints/$DEMO_ID" >/dev/null 2>&1; then
  DEMO_SECRET="demo-$(openssl rand -hex 12)"
  created="$(api -X POST "http://127.0.0.1:$PORT/api/v1/endpoints" -d "{\"name\":\"demo\",\"provider\":\"github\",\"secrets\":[\"$DEMO_SECRET\"],\"destination_url\":\"http://127.0.0.1:$ECHO_PORT/webhooks\"}")"
  DEMO_ID="$(printf '%s' "$created" | node -e 'let s="";process.stdin.on("data",d=>s+=d).on("end",()=>console.log(JSON.parse(s).id))')"
  printf 'DEMO_ID=%s\nDEMO_SECRET=%s\n' "$DEMO_ID" "$DEMO_SECRET" > "$DEMO_FILE"
fi
RELAY_SECRET="$(api "http://127.0.0.1:$PORT/api/v1/endpoints/$DEMO_ID/secret" | node -e 'let s="";process.stdin.on("data",d=>s+=d).on("end",()=>console.log(JSON.parse(s).relay_secret))')"
ECHO_PORT="$ECHO_PORT" RELAY_SECRET="$RELAY_SECRET" node scripts/echo-destination.mjs &
pids+=($!)

# Production's cron fires the sweeper every minute; wrangler dev fires nothing
# by itself, so this does (now, then every minute), or the dashboard would say
# the sweeper has not run.
SCHEDULED_URL="http://127.0.0.1:$PORT/cdn-cgi/local/scheduled?cron=*/1+*+*+*+*"
curl -fsS "$SCHEDULED_URL" >/dev/null 2>&1 || echo "[dev] could not fire the sweeper at $SCHEDULED_URL"
setsid bash -c "while sleep 60; do curl -fsS '$SCHEDULED_URL' >/dev/null 2>&1 || echo '[dev] the sweeper did not answer'; done" &
pids+=($!)

cat <<EOT

hookrelay is running at http://127.0.0.1:$PORT (state in $STATE_DIR)
  dashboard:      http://127.0.0.1:$PORT/dashboard/  (sign in with the admin token)
  admin token:    $ADMIN_TOKEN
  demo endpoint:  http://127.0.0.1:$PORT/$DEMO_ID  (provider github, delivers to http://127.0.0.1:$ECHO_PORT/webhooks)

Send a signed webhook (paste into another shell):

  BODY='{"action":"opened","number":1}'
  curl -sS -X POST http://127.0.0.1:$PORT/$DEMO_ID \\
    -H 'content-type: application/json' -H 'x-github-event: ping' \\
    -H "x-github-delivery: \$(date +%s%N)" \\
    -H "x-hub-signature-256: sha256=\$(printf '%s' "\$BODY" | openssl dgst -sha256 -hmac '$DEMO_SECRET' | sed 's/^.* //')" \\
    --data-binary "\$BODY"

Look at it:
  curl -sS -H 'authorization: Bearer $ADMIN_TOKEN' 'http://127.0.0.1:$PORT/api/v1/events?endpoint_id=$DEMO_ID'
  curl -sS -H 'authorization: Bearer $ADMIN_TOKEN' http://127.0.0.1:$PORT/api/v1/health
The sweeper runs every minute, as the cron does in production; to run it now:
  curl -sS '$SCHEDULED_URL'

EOT
wait "${pids[0]}"
