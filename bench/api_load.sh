#!/usr/bin/env bash
# API load benchmark: builds in release mode, loads a generated catalogue
# (about 60,000 movies), starts the server (API only, no engine) on SQLite
# and on PostgreSQL, each with the list cache on (LIST_CACHE_SECS=5, the
# default) and off (0), and drives it with wrk at 32 connections:
#   1. GET /api/user/{uuid} with a valid token (the token-checked read; with the
#      cache on, the caller's own account answer is cached until it changes);
#   2. the same GET while 32 other connections saturate POST /api/auth/login;
#   3. GET /api/movie?page=1, GET /api/movie/search/<term>, PATCH /api/movie/{id}/meta.
# Requests are bounded (DURATION seconds each) and go to 127.0.0.1 only.
#
#   bash bench/api_load.sh
#   BACKENDS=sqlite CACHES=off DURATION=5 ITEMS=50000 bash bench/api_load.sh
#   SCENARIOS=logins BCRYPT_NICENESS=5 bash bench/api_load.sh   # one group, a setting tried
# SCENARIOS picks among: reads (1), logins (2), lists (page and search), ratings.
set -euo pipefail
cd "$(dirname "$0")/.."
SCRIPTS=bench

ITEMS=${ITEMS:-250000}            # 24 % are movies: 60,000
USERS=${USERS:-2000}
INTERACTIONS=${INTERACTIONS:-100000}
DURATION=${DURATION:-10}
CONNECTIONS=${CONNECTIONS:-32}
BACKENDS=${BACKENDS:-sqlite postgres}
CACHES=${CACHES:-on off}
PORT=${PORT:-4090}
SCENARIOS=${SCENARIOS:-reads logins lists ratings}
WORK=${WORK:-$(mktemp -d /tmp/recofinement-api-bench.XXXXXX)}

command -v wrk >/dev/null || { apt-get install -y -q wrk >/dev/null 2>&1 || { apt-get update -q >/dev/null && apt-get install -y -q wrk >/dev/null; }; }
if [ -z "${BIN:-}" ]; then
    echo "== build (release)"
    cargo build --release -p recofinement --locked
    BIN=${CARGO_TARGET_DIR:-target}/release/recofinement
fi

echo "== generate: $ITEMS items, $USERS users, $INTERACTIONS interactions"
"$BIN" generate --out "$WORK/data" --items "$ITEMS" --users "$USERS" --interactions "$INTERACTIONS" --seed 7 | tail -1

cat > "$WORK/login.lua" <<'LUA'
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.body = '{"email": "bench@example.com", "password": "goodPassword!123"}'
LUA

# "<req/s> <p99 ms>" from wrk's --latency output.
figures() {
    awk '/Requests\/sec/ { rps = $2 }
         /^ +99%/ { v = $2; if (v ~ /us$/) { sub(/us/, "", v); v /= 1000 } else if (v ~ /ms$/) { sub(/ms/, "", v) } else if (v ~ /s$/) { sub(/s/, "", v); v *= 1000 }; p99 = v }
         /Non-2xx/ { bad = $NF }
         /timeout [0-9]+/ { for (i = 1; i <= NF; i++) if ($i == "timeout") late = $(i + 1) + 0 }
         END { printf (rps < 100 ? "%10.1f" : "%10.0f"), rps
               printf " req/s  p99 %7.2f ms%s%s\n", p99, (bad ? "  non-2xx " bad : ""), (late ? "  timeouts " late : "") }' "$1"
}

wants() { [[ " $SCENARIOS " == *" $1 "* ]]; }

run_wrk() { # name, then wrk arguments
    local name=$1; shift
    wrk -t1 -c"$CONNECTIONS" -d"${DURATION}s" --latency "$@" > "$WORK/$name.txt" 2>&1
    printf "%-20s %-34s %s\n" "$BACKEND cache $CACHE" "$name" "$(figures "$WORK/$name.txt")"
}

# Loads the generated set into a fresh database of $BACKEND; sets URL.
load() {
    case $BACKEND in
        sqlite) URL="sqlite://$WORK/bench.db"; rm -f "$WORK"/bench.db* ;;
        postgres)
            psql -h 127.0.0.1 -U postgres -q -c "DROP DATABASE IF EXISTS recofinement_api_bench" >/dev/null
            psql -h 127.0.0.1 -U postgres -q -c "CREATE DATABASE recofinement_api_bench" >/dev/null
            URL="postgres://postgres@127.0.0.1:5432/recofinement_api_bench" ;;
    esac
    DATABASE_URL=$URL "$BIN" import "$WORK/data" >/dev/null 2>&1
}

for BACKEND in $BACKENDS; do
  load
  for CACHE in $CACHES; do
    case $CACHE in on) TTL=5 ;; *) TTL=0 ;; esac
    export DATABASE_URL=$URL
    # The second pass on a database finds the first pass's account and ratings.
    SECRET_KEY=bench-secret-key-0123456789 TOKEN_ENCRYPTION_KEY=$("$BIN" secret generate) LIST_CACHE_SECS=$TTL \
        "$BIN" --port "$PORT" --no-engine \
        --login-max-failures-per-account 1000000 --login-max-failures-per-client 1000000 \
        --login-account-ceiling 1000000 \
        --log-level warn > "$WORK/server-$BACKEND-$CACHE.log" 2>&1 &
    SERVER=$!
    trap 'kill $SERVER 2>/dev/null || true' EXIT
    for _ in $(seq 1 50); do curl -sf "http://127.0.0.1:$PORT/health" >/dev/null && break; sleep 0.2; done
    BASE="http://127.0.0.1:$PORT"
    ANSWER=$(curl -s -X POST "$BASE/api/auth/register" -H 'Content-Type: application/json' \
        -d '{"email": "bench@example.com", "username": "bench", "password": "goodPassword!123"}')
    if ! echo "$ANSWER" | grep -q access_token; then   # registered by the previous pass
        ANSWER=$(curl -s -X POST "$BASE/api/auth/login" -H 'Content-Type: application/json' \
            -d '{"email": "bench@example.com", "password": "goodPassword!123"}')
    fi
    export TOKEN=$(echo "$ANSWER" | python3 -c 'import json,sys; print(json.load(sys.stdin)["access_token"])')
    USER_UUID=$(echo "$ANSWER" | python3 -c 'import json,sys; print(json.load(sys.stdin)["user"]["uuid"])')
    curl -s "$BASE/api/movie?page=1" -H "Authorization: Bearer $TOKEN" \
        | python3 -c 'import json,sys; d=json.load(sys.stdin); print("\n".join(str(i["content_id"]) for i in d["content"]))' > "$WORK/ids"
    for p in 2 3 4 5; do curl -s "$BASE/api/movie?page=$p" -H "Authorization: Bearer $TOKEN" \
        | python3 -c 'import json,sys; d=json.load(sys.stdin); print("\n".join(str(i["content_id"]) for i in d["content"]))' >> "$WORK/ids"; done
    export IDS_FILE="$WORK/ids"
    TERM_WORD=$(curl -s "$BASE/api/movie?page=1" -H "Authorization: Bearer $TOKEN" \
        | python3 -c 'import json,sys; d=json.load(sys.stdin); print(d["content"][0]["title"].split()[0].lower())')
    MOVIES=$(curl -s "$BASE/api/movie" -H "Authorization: Bearer $TOKEN" | python3 -c 'import json,sys; print(json.load(sys.stdin)["total_pages"] * 24)')
    echo "== $BACKEND, list cache $CACHE: about $MOVIES movies; search term \"$TERM_WORD\""
    AUTH="Authorization: Bearer $TOKEN"
    if wants reads; then run_wrk "user-get" -H "$AUTH" "$BASE/api/user/$USER_UUID"; fi
    if wants logins; then
        wrk -t1 -c"$CONNECTIONS" -d"${DURATION}s" --timeout 60s --latency -s "$WORK/login.lua" "$BASE/api/auth/login" > "$WORK/login.txt" 2>&1 &
        LOGIN=$!
        sleep 1
        run_wrk "user-get-during-logins" -d"$((DURATION - 2))s" -H "$AUTH" "$BASE/api/user/$USER_UUID"
        wait $LOGIN
        printf "%-20s %-34s %s\n" "$BACKEND cache $CACHE" "login (bcrypt cost 12)" "$(figures "$WORK/login.txt")"
    fi
    if wants lists; then
        run_wrk "movie-page-1" -H "$AUTH" "$BASE/api/movie?page=1"
        run_wrk "movie-search" -H "$AUTH" "$BASE/api/movie/search/$TERM_WORD"
    fi
    if wants ratings; then run_wrk "movie-patch-meta" -s "$SCRIPTS/rate_random_movies.lua" "$BASE"; fi
    kill $SERVER; wait $SERVER 2>/dev/null || true
    trap - EXIT
  done
done
echo "raw wrk outputs in $WORK"
