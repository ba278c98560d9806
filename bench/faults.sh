#!/usr/bin/env bash
# The fault tests (issue 10, items 5 and 6) with one verdict table:
# kill -9 in the middle of an engine write and of a burst of ratings (SQLite
# and PostgreSQL), and PostgreSQL stopped and started under load (on a
# throwaway cluster of the test's own, never the shared one).
#
#   TEST_DATABASE_URL=postgres://postgres@127.0.0.1:5432/DB bash bench/faults.sh
#
# They are ordinary tests (crates/recofinement/tests/faults.rs), run by
# `cargo test` and .ci/run as well; this prints what they measured.
set -euo pipefail
cd "$(dirname "$0")/.."

if [ -z "${TEST_DATABASE_URL:-}" ]; then
    echo "TEST_DATABASE_URL is not set: the PostgreSQL variants will be skipped" >&2
fi
OUT="$(mktemp)"
trap 'rm -f "$OUT"' EXIT
status=0
cargo test -p recofinement --test faults -- --nocapture --test-threads 1 >"$OUT" 2>&1 || status=$?

verdict() { # full test name
    if grep -qE "skipped ([a-z_:]*::)?$1:" "$OUT"; then
        echo "skipped"
    elif ! grep -qF "test $1 ... " "$OUT"; then
        echo "?"
    elif sed -n '/^failures:$/,$p' "$OUT" | grep -qxF "    $1"; then
        echo "FAIL"
    else
        echo "pass"
    fi
}

printf '%-64s %-8s %-8s\n' "fault" "SQLite" "PostgreSQL"
printf '%-64s %-8s %-8s\n' "kill -9 mid engine write: cursors match rows, rerun completes" \
    "$(verdict 'kill_9_during_an_engine_write_leaves_cursors_matching_rows::sqlite')" \
    "$(verdict 'kill_9_during_an_engine_write_leaves_cursors_matching_rows::postgres')"
printf '%-64s %-8s %-8s\n' "kill -9 mid rating burst: averages = interactions, no ack lost" \
    "$(verdict 'kill_9_during_a_burst_of_ratings_loses_no_acknowledged_rating::sqlite')" \
    "$(verdict 'kill_9_during_a_burst_of_ratings_loses_no_acknowledged_rating::postgres')"
printf '%-64s %-8s %-8s\n' "PostgreSQL stopped under load: quick 503s, back within 5 s" \
    "n/a" "$(verdict 'postgres_restarted_under_load_gives_quick_503s_and_recovers')"
grep -o 'outage: .*' "$OUT" | sed 's/^/  /' || true
if [ "$status" -ne 0 ]; then
    echo "--- failures"
    sed -n '/^failures:/,$p' "$OUT"
fi
exit "$status"
