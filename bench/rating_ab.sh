#!/usr/bin/env bash
# A/B of PATCH /api/movie/{id}/meta on PostgreSQL: two release binaries
# (OLD, NEW), each on its own database loaded from the same generated set
# (50,000 items), driven by wrk at 32 connections, interleaved ROUNDS times
# so that both sides see the same machine. Prints req/s, p99 and the load
# average of each round.
#
#   OLD=/tmp/recofinement-before NEW=target/release/recofinement bash bench/rating_ab.sh
set -euo pipefail
SCRIPTS=$(cd "$(dirname "$0")" && pwd)
W=${WORK:-/tmp/recofinement-rating-ab}; mkdir -p $W
: "${OLD:?the binary before}" "${NEW:?the binary after}"
ROUNDS=${ROUNDS:-3}; DURATION=${DURATION:-8}
[ -d $W/data ] || $NEW generate --out $W/data --items 50000 --users 500 --interactions 20000 --seed 7 >/dev/null
for side in old new; do
  psql -h 127.0.0.1 -U postgres -q -c "DROP DATABASE IF EXISTS ab_$side" >/dev/null
  psql -h 127.0.0.1 -U postgres -q -c "CREATE DATABASE ab_$side" >/dev/null
  BIN=$([ $side = old ] && echo $OLD || echo $NEW)
  DATABASE_URL=postgres://postgres@127.0.0.1:5432/ab_$side $BIN import $W/data >/dev/null 2>&1
done
for round in $(seq 1 $ROUNDS); do
  for side in old new; do
    BIN=$([ $side = old ] && echo $OLD || echo $NEW)
    DATABASE_URL=postgres://postgres@127.0.0.1:5432/ab_$side SECRET_KEY=bench-secret-key-0123456789 TOKEN_ENCRYPTION_KEY=$($BIN secret generate) LIST_CACHE_SECS=0 \
      $BIN --port 4095 --no-engine --log-level warn > $W/server.log 2>&1 &
    S=$!
    for _ in $(seq 1 50); do curl -sf http://127.0.0.1:4095/health >/dev/null && break; sleep 0.2; done
    A=$(curl -s -X POST http://127.0.0.1:4095/api/auth/register -H 'Content-Type: application/json' -d '{"email": "ab@example.com", "username": "abab", "password": "goodPassword!123"}')
    echo "$A" | grep -q access_token || A=$(curl -s -X POST http://127.0.0.1:4095/api/auth/login -H 'Content-Type: application/json' -d '{"email": "ab@example.com", "password": "goodPassword!123"}')
    export TOKEN=$(echo "$A" | python3 -c 'import json,sys; print(json.load(sys.stdin)["access_token"])')
    for p in 1 2 3 4 5; do curl -s "http://127.0.0.1:4095/api/movie?page=$p" -H "Authorization: Bearer $TOKEN" | python3 -c 'import json,sys; print("\n".join(str(i["content_id"]) for i in json.load(sys.stdin)["content"]))'; done > $W/ids
    export IDS_FILE=$W/ids
    wrk -t1 -c32 -d${DURATION}s --latency -s "$SCRIPTS/rate_random_movies.lua" http://127.0.0.1:4095 > $W/$side-$round.txt 2>&1
    printf "round %s %-4s %s  load %s\n" $round $side "$(awk '/Requests\/sec/ {r=$2} /^ +99%/ {p=$2} /Non-2xx/ {b=$NF} END {printf "%8.0f req/s p99 %s%s", r, p, (b ? " non-2xx " b : "")}' $W/$side-$round.txt)" "$(cut -d' ' -f1 /proc/loadavg)"
    kill $S; wait $S 2>/dev/null || true
  done
done
