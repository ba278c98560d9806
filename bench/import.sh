#!/usr/bin/env bash
# Import benchmark: builds in release mode, generates a dataset with 1 M
# interactions, and times `recofinement import` on SQLite and on PostgreSQL
# (database recofinement_bench on 127.0.0.1:5432, user postgres, recreated
# here). Prints rows/s per backend; the per-file table is in the logs.
#
#   bash bench/import.sh            # defaults below
#   USERS=50000 ITEMS=100000 INTERACTIONS=1000000 SEED=1 bash bench/import.sh
set -euo pipefail
cd "$(dirname "$0")/.."

USERS=${USERS:-20000}
ITEMS=${ITEMS:-50000}
INTERACTIONS=${INTERACTIONS:-1000000}
SEED=${SEED:-1}
PGHOST=${PGHOST:-127.0.0.1}
PGPORT=${PGPORT:-5432}
BENCH_DB=${BENCH_DB:-recofinement_bench}  # PostgreSQL database, dropped and recreated
WORK=${WORK:-$(mktemp -d /tmp/recofinement-import-bench.XXXXXX)}

# BIN=path/to/recofinement skips the build (e.g. a binary built elsewhere).
if [ -z "${BIN:-}" ]; then
    echo "== build (release)"
    cargo build --release -p recofinement --locked
    BIN=${CARGO_TARGET_DIR:-target}/release/recofinement
fi

echo "== generate: $USERS users, $ITEMS items, $INTERACTIONS interactions (seed $SEED)"
start=$(date +%s.%N)
"$BIN" generate --out "$WORK/data" --users "$USERS" --items "$ITEMS" \
    --interactions "$INTERACTIONS" --seed "$SEED" | tail -1
echo "generated in $(echo "$(date +%s.%N) - $start" | bc) s ($(du -sh "$WORK/data" | cut -f1))"

# Rows of the whole set, of the interaction files and per interaction file,
# read from the summary table (file table rows inserted seconds rows/s).
report() { # $1 = backend, $2 = log file
    awk -v backend="$1" '
        /^meta_user_content/ { rows += $3; secs += $5; files = files sprintf(" %s %.0f", $1, $6) }
        /^total/ { total = $2; tsecs = $4 }
        END {
            printf "%-10s all files: %9d rows in %6.2f s = %8.0f rows/s | interactions: %8d rows in %6.2f s = %8.0f rows/s\n",
                backend, total, tsecs, total / tsecs, rows, secs, rows / secs
            printf "%-10s per interaction file (rows/s):%s\n", backend, files
        }' "$2"
}

echo "== SQLite"
rm -f "$WORK/bench.db" "$WORK/bench.db-wal" "$WORK/bench.db-shm"
DATABASE_URL="sqlite://$WORK/bench.db" "$BIN" migrate >/dev/null
DATABASE_URL="sqlite://$WORK/bench.db" "$BIN" import "$WORK/data" 2>/dev/null | tee "$WORK/sqlite.log"

echo "== PostgreSQL"
psql -h "$PGHOST" -p "$PGPORT" -U postgres -q -c "DROP DATABASE IF EXISTS $BENCH_DB" >/dev/null
psql -h "$PGHOST" -p "$PGPORT" -U postgres -q -c "CREATE DATABASE $BENCH_DB" >/dev/null
PG_URL="postgres://postgres@$PGHOST:$PGPORT/$BENCH_DB"
DATABASE_URL="$PG_URL" "$BIN" migrate >/dev/null
DATABASE_URL="$PG_URL" "$BIN" import "$WORK/data" 2>/dev/null | tee "$WORK/postgres.log"

echo "== re-import on PostgreSQL (adds nothing)"
DATABASE_URL="$PG_URL" "$BIN" import "$WORK/data" 2>/dev/null | tail -2

echo "== summary"
report sqlite "$WORK/sqlite.log"
report postgres "$WORK/postgres.log"
echo "(data and logs in $WORK)"
