#!/usr/bin/env bash
# What PostgreSQL itself does on this machine, without our server: pgbench
# at the API benchmark's 32 connections on a 60,000-row table, for
#   1. a primary-key read (the floor under a token-checked GET),
#   2. a one-statement write transaction (the best a rating could be),
#   3. a transaction of seven round trips (a rating today: begin, upsert,
#      locked read, two updates, the events, commit).
# It puts the API's figures (bench/api_load.sh) beside the database's own.
#
#   bash bench/pg_ceiling.sh
#   PGURL=postgres://postgres@127.0.0.1:5432 DURATION=8 bash bench/pg_ceiling.sh
set -euo pipefail
PGURL=${PGURL:-postgres://postgres@127.0.0.1:5432}
DURATION=${DURATION:-8}
CLIENTS=${CLIENTS:-32}
DB=recofinement_pg_ceiling
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"; psql "$PGURL/postgres" -qc "DROP DATABASE IF EXISTS $DB" >/dev/null 2>&1' EXIT

psql "$PGURL/postgres" -qc "DROP DATABASE IF EXISTS $DB" -c "CREATE DATABASE $DB" >/dev/null 2>&1
psql "$PGURL/$DB" -q -c "CREATE TABLE t (id int PRIMARY KEY, n bigint NOT NULL)" \
    -c "INSERT INTO t SELECT g, 0 FROM generate_series(1, 60000) g" -c "VACUUM ANALYZE t"

printf '\\set id random(1, 60000)\nSELECT n FROM t WHERE id = :id;\n' > "$WORK/read.sql"
printf '\\set id random(1, 60000)\nUPDATE t SET n = n + 1 WHERE id = :id;\n' > "$WORK/write1.sql"
{
    printf '\\set id random(1, 60000)\nBEGIN;\nSELECT n FROM t WHERE id = :id FOR UPDATE;\n'
    for _ in 1 2 3 4; do printf 'UPDATE t SET n = n + 1 WHERE id = :id;\n'; done
    printf 'COMMIT;\n'
} > "$WORK/write7.sql"

echo "synchronous_commit=$(psql "$PGURL/$DB" -Atc 'SHOW synchronous_commit'), $CLIENTS clients, ${DURATION}s each, $(nproc) cores"
for script in read write1 write7; do
    out=$(pgbench "$PGURL/$DB" -n -c "$CLIENTS" -j 2 -T "$DURATION" -f "$WORK/$script.sql" 2>&1)
    tps=$(echo "$out" | awk '/^tps/ { printf "%.0f", $3 }')
    lat=$(echo "$out" | awk '/latency average/ { print $4 }')
    printf '%-8s %8s tps  mean latency %s ms\n' "$script" "$tps" "$lat"
done
