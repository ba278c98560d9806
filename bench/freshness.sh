#!/usr/bin/env bash
# Freshness of the collaborative list on one database, end to end: generate
# 20,000 items × 2,000 users × 100,000 interactions, import them, start the
# server with the engine and the metrics listener, wait for its first engine
# pass (the training that gives fold-ins their item factors), then run
# bench/freshness.py (100 users, 100 ratings/s, 30 s) and print the server's
# fold-in counters. Lines with "deadlock" or "fold-in failed" in the
# server's log are counted at the end.
#
#   DB=postgres POLL=0.02 BIN=target/release/recofinement bash bench/freshness.sh
#   DB=sqlite   POLL=0.1  BIN=target/release/recofinement bash bench/freshness.sh
set -euo pipefail
SCRIPTS=$(cd "$(dirname "$0")" && pwd)
B=${BIN:-target/release/recofinement}; W=${WORK:-/tmp/recofinement-freshness}; POLL=${POLL:-0.1}
mkdir -p $W
[ -d $W/data ] || $B generate --out $W/data --items 20000 --users 2000 --interactions 100000 --seed 7 >/dev/null
if [ "${DB:-postgres}" = postgres ]; then
  psql -h 127.0.0.1 -U postgres -q -c "DROP DATABASE IF EXISTS freshness" >/dev/null 2>&1
  psql -h 127.0.0.1 -U postgres -q -c "CREATE DATABASE freshness" >/dev/null
  URL=postgres://postgres@127.0.0.1:5432/freshness
else
  rm -f $W/f.db*
  URL=sqlite://$W/f.db
fi
export DATABASE_URL=$URL SECRET_KEY=fresh-secret-key-0123456789 TOKEN_ENCRYPTION_KEY=$($B secret generate) \
  ACCOUNT_REQUESTS_PER_CLIENT=1000000 BCRYPT_COST=4
$B import $W/data >/dev/null 2>&1
LOGGING_LEVEL_ROOT=info,recofinement::engine_runner=debug METRICS_ADDR=127.0.0.1:9465 \
  nice -n 5 $B --port 4151 --login-max-failures-per-account 1000000 --login-max-failures-per-client 1000000 \
  > $W/server.log 2>&1 &
S=$!
trap 'kill $S 2>/dev/null || true' EXIT
for _ in $(seq 1 600); do grep -q "FromSimilarContent" $W/server.log && break; sleep 1; done
sleep 2
echo "load before: $(cut -d' ' -f1 /proc/loadavg)"
nice -n 5 python3 $SCRIPTS/freshness.py --base http://127.0.0.1:4151 --users 100 --rate 100 --seconds 30 --poll $POLL
echo "load after: $(cut -d' ' -f1 /proc/loadavg)"
curl -s http://127.0.0.1:9465/metrics | grep -E "^recofinement_fold_in" | grep -v '_bucket{le="\(0.001\|0.0025\|2.5\|5\|10\|30\|60\|300\)"}'
echo "log lines: deadlock $(grep -c deadlock $W/server.log || true), fold-in failed $(grep -c 'fold-in failed' $W/server.log || true)"
