#!/usr/bin/env bash
# API write latency while the engine rewrites its tables (issue #10 item 7):
# on a SQLite database holding the benchmark set (20,000 users, 50,000 items,
# 1 M interactions, 10 % of the accounts able to log in), wrk rates random
# movies through `serve --no-engine` for DURATION seconds, once alone and
# once while `engine run --force` (a second process on the same file)
# recomputes and writes every engine. Prints ratings/s and latency
# percentiles for both, and what the engine run printed.
#
#   bash bench/engine_write_latency.sh
set -euo pipefail
cd "$(dirname "$0")/.."
SCRIPTS=bench

DURATION=${DURATION:-40}
CONNECTIONS=${CONNECTIONS:-8}
PORT=${PORT:-4091}
WORK=${WORK:-$(mktemp -d /tmp/recofinement-engine-write.XXXXXX)}
command -v wrk >/dev/null || { apt-get update -q >/dev/null && apt-get install -y -q wrk >/dev/null; }
if [ -z "${BIN:-}" ]; then
    cargo build --release -p recofinement --locked
    BIN=${CARGO_TARGET_DIR:-target}/release/recofinement
fi

echo "== generate and import (SQLite)"
"$BIN" generate --out "$WORK/data" --users 20000 --items 50000 --interactions 1000000 --accounts 10% --seed 1 | tail -1
export DATABASE_URL="sqlite://$WORK/bench.db"
"$BIN" import "$WORK/data" >/dev/null 2>&1
# A first run so that the measured one replaces rows, as a scheduled run does.
"$BIN" engine run --force > "$WORK/engine-first.txt" 2>&1

SECRET_KEY=bench-secret-key-0123456789 TOKEN_ENCRYPTION_KEY=$("$BIN" secret generate) \
    "$BIN" --port "$PORT" --no-engine --log-level warn > "$WORK/server.log" 2>&1 &
SERVER=$!
trap 'kill $SERVER 2>/dev/null || true' EXIT
for _ in $(seq 1 50); do curl -sf "http://127.0.0.1:$PORT/health" >/dev/null && break; sleep 0.2; done
BASE="http://127.0.0.1:$PORT"
export TOKEN=$(curl -s -X POST "$BASE/api/auth/register" -H 'Content-Type: application/json' \
    -d '{"email": "bench@example.com", "username": "bench", "password": "goodPassword!123"}' \
    | python3 -c 'import json,sys; print(json.load(sys.stdin)["access_token"])')
for p in 1 2 3 4 5; do curl -s "$BASE/api/movie?page=$p" -H "Authorization: Bearer $TOKEN" \
    | python3 -c 'import json,sys; print("\n".join(str(i["content_id"]) for i in json.load(sys.stdin)["content"]))'; done > "$WORK/ids"
export IDS_FILE="$WORK/ids"

summary() { # name, wrk output
    awk -v name="$1" '/Requests\/sec/ { rps = $2 } /^ +(50|90|99)%/ { p[$1] = $2 } /Non-2xx/ { bad = $NF }
        END { printf "%-28s %8.0f ratings/s  p50 %-9s p90 %-9s p99 %-9s%s\n", name, rps, p["50%"], p["90%"], p["99%"], (bad ? "  non-2xx " bad : "") }' "$2"
}

echo "== ratings alone (${DURATION}s, $CONNECTIONS connections)"
wrk -t1 -c"$CONNECTIONS" -d"${DURATION}s" --latency -s "$SCRIPTS/rate_random_movies.lua" "$BASE" > "$WORK/alone.txt" 2>&1
echo "== ratings during engine run --force"
wrk -t1 -c"$CONNECTIONS" -d"${DURATION}s" --latency -s "$SCRIPTS/rate_random_movies.lua" "$BASE" > "$WORK/during.txt" 2>&1 &
WRK=$!
sleep 2
/usr/bin/time -f "engine run: %e s wall, %M KiB peak" "$BIN" engine run --force > "$WORK/engine.txt" 2>&1 || true
wait $WRK
echo
summary "ratings alone" "$WORK/alone.txt"
summary "ratings during engine run" "$WORK/during.txt"
grep -E "engine run:|rows|Popularity|Similar|Collaborative|Profile|Link" "$WORK/engine.txt" | tail -12
echo "raw outputs in $WORK"
