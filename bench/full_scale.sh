#!/usr/bin/env bash
# The full-scale engine run (issue #12 item 6): generate a set with a share
# of accounts that can log in, import it into PostgreSQL (database
# $SCALE_DB, dropped and recreated), then `engine run --force` with every
# engine, then each engine alone (its own snapshot: what that engine reads),
# each under /usr/bin/time for its peak resident memory.
#
#   BIN=target/release/recofinement bash bench/full_scale.sh        # the original's scale
#   USERS=100000 ITEMS=43000 INTERACTIONS=12000000 BIN=… bash bench/full_scale.sh
#   ALL=0 ENGINES=cf …    # one engine only; SKIP_LOAD=1 reuses the loaded database
#
# Needs about 17 bytes of CSV (deleted after the import) and ~150 bytes of
# PostgreSQL per interaction on disk: watch `df -h`. KEEP_DB=1 keeps the database afterwards.
set -euo pipefail
cd "$(dirname "$0")/.."

USERS=${USERS:-1000000}
ITEMS=${ITEMS:-430000}
INTERACTIONS=${INTERACTIONS:-120000000}
ACCOUNTS=${ACCOUNTS:-10%}
SEED=${SEED:-1}
PGHOST=${PGHOST:-127.0.0.1}
PGPORT=${PGPORT:-5432}
SCALE_DB=${SCALE_DB:-recofinement_full}
WORK=${WORK:-$(mktemp -d /tmp/recofinement-scale.XXXXXX)}
BIN=${BIN:-target/release/recofinement}
NICE=${NICE:-15}
ENGINES=${ENGINES:-popularity similarities links cf profile similar-content}

run() { # $1 = label, rest = command; prints its output, time and peak memory
    local label=$1
    shift
    echo "== $label"
    /usr/bin/time -f "${label//%/%%}: %e s wall, peak RSS %M KiB" nice -n "$NICE" "$@" 2>&1 |
        grep -v '^\s*$' | grep -v '\[' || true
    df -h "$WORK" | tail -1
}

if [ -z "${SKIP_LOAD:-}" ]; then # SKIP_LOAD=1: the database is already loaded
    run "generate $USERS users, $ITEMS items, $INTERACTIONS interactions, accounts $ACCOUNTS" \
        "$BIN" generate --out "$WORK/data" --users "$USERS" --items "$ITEMS" \
        --interactions "$INTERACTIONS" --seed "$SEED" --accounts "$ACCOUNTS"
    du -sh "$WORK/data"

    psql -h "$PGHOST" -p "$PGPORT" -U postgres -q -c "DROP DATABASE IF EXISTS $SCALE_DB" >/dev/null
    psql -h "$PGHOST" -p "$PGPORT" -U postgres -q -c "CREATE DATABASE $SCALE_DB" >/dev/null
    export DATABASE_URL="postgres://postgres@$PGHOST:$PGPORT/$SCALE_DB"
    "$BIN" migrate >/dev/null
    run "import" "$BIN" import "$WORK/data"
    rm -rf "$WORK/data" # the CSV is not needed any more: free the disk
    psql -h "$PGHOST" -p "$PGPORT" -U postgres -Atc "SELECT pg_size_pretty(pg_database_size('$SCALE_DB'))"
else
    export DATABASE_URL="postgres://postgres@$PGHOST:$PGPORT/$SCALE_DB"
fi

if [ "${ALL:-1}" = 1 ]; then # ALL=0: only the engines one by one
    run "engine run --force (every engine)" "$BIN" engine run --force
fi
for engine in $ENGINES; do
    run "engine run --force $engine" "$BIN" engine run --force --engine "$engine"
done

if [ -z "${KEEP_DB:-}" ]; then
    psql -h "$PGHOST" -p "$PGPORT" -U postgres -q -c "DROP DATABASE $SCALE_DB" >/dev/null
fi
echo "(logs above; work dir $WORK)"
