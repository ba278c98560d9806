#!/usr/bin/env bash
# Server CPU per request of two builds, alternating (A/B on one machine is
# more reliable than two whole benchmark runs: the VM's noise reaches a
# third of a figure). Reads the database `bench/api_load.sh` leaves
# (PostgreSQL, recofinement_api_bench, with its bench@example.com account);
# the list cache is off, so each request reaches the database.
#
#   A=/tmp/recofinement-before B=target/release/recofinement bash bench/cpu_per_request.sh
set -euo pipefail
A=${A:?the first build}
B=${B:?the second build}
ROUNDS=${ROUNDS:-3}
PORT=${PORT:-4091}
PATHS=${PATHS:-/api/movie?page=1 /api/movie/search/gentle}
export DATABASE_URL=${DATABASE_URL:-postgres://postgres@127.0.0.1:5432/recofinement_api_bench}

ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; } # user + system, 1/100 s

for round in $(seq 1 "$ROUNDS"); do
    for bin in "$A" "$B"; do
        SECRET_KEY=bench-secret-key-0123456789 TOKEN_ENCRYPTION_KEY=$("$bin" secret generate) LIST_CACHE_SECS=0 \
            "$bin" --port "$PORT" --no-engine --log-level warn >/dev/null 2>&1 &
        pid=$!
        for _ in $(seq 1 50); do curl -sf "http://127.0.0.1:$PORT/health" >/dev/null && break; sleep 0.2; done
        token=$(curl -s -X POST "127.0.0.1:$PORT/api/auth/login" -H 'Content-Type: application/json' \
            -d '{"email": "bench@example.com", "password": "goodPassword!123"}' |
            python3 -c 'import json,sys; print(json.load(sys.stdin)["access_token"])')
        for path in $PATHS; do
            url="http://127.0.0.1:$PORT$path"
            wrk -t1 -c32 -d2s -H "Authorization: Bearer $token" "$url" >/dev/null # warm-up
            before=$(ticks "$pid")
            out=$(wrk -t1 -c32 -d8s -H "Authorization: Bearer $token" "$url")
            after=$(ticks "$pid")
            requests=$(echo "$out" | awk '/requests in/ {print $1}')
            rps=$(echo "$out" | awk '/Requests\/sec/ {print $2}')
            echo "round $round $bin $path: $rps req/s, $(( (after - before) * 10000000 / requests / 1000 )) µs of server CPU per request"
        done
        kill "$pid"
        wait "$pid" 2>/dev/null || true
    done
done
