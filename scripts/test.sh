#!/usr/bin/env bash
# Every test tier, as `make test` runs it. The unit, web and integration tests run in two
# processes side by side: the SQLite half and the PostgreSQL half, each with a database and a
# Redis database of its own (Redis DB n and n+1, PostgreSQL <db>_lite and <db>). Then the
# browser tests run alone (Redis DB n+2 and n+3, PostgreSQL <db>_browser). Extra arguments go
# to every pytest run.
set -uo pipefail
cd "$(dirname "$0")/.."
PYTEST=".venv/bin/pytest"
db="${TEST_DATABASE_URL:?set TEST_DATABASE_URL}"
redis_url="${TEST_REDIS_URL:?set TEST_REDIS_URL}"
redis_base="${redis_url%/*}"
n="${redis_url##*/}"
if [ "$n" -gt 12 ]; then
  echo "TEST_REDIS_URL: use a database number from 0 to 12 (the run uses it and the next three)" >&2
  exit 2
fi
logs="$(mktemp -d)"

TEST_DATABASE_URL="${db}_lite" TEST_REDIS_URL="$redis_base/$n" \
  "$PYTEST" -m "not browser" -k "not postgresql" "$@" >"$logs/sqlite.log" 2>&1 &
sqlite_pid=$!
TEST_DATABASE_URL="$db" TEST_REDIS_URL="$redis_base/$((n + 1))" \
  "$PYTEST" -m "not browser" -k "postgresql" "$@" >"$logs/postgresql.log" 2>&1 &
postgres_pid=$!
wait "$sqlite_pid"; sqlite_rc=$?
wait "$postgres_pid"; postgres_rc=$?
echo "== unit, web and integration tests: the SQLite half (exit $sqlite_rc)"
cat "$logs/sqlite.log"
echo "== unit, web and integration tests: the PostgreSQL half (exit $postgres_rc)"
cat "$logs/postgresql.log"

echo "== browser tests"
TEST_DATABASE_URL="$db" TEST_REDIS_URL="$redis_base/$((n + 2))" "$PYTEST" -m browser "$@"
browser_rc=$?
rm -rf "$logs"
echo "== exit codes: sqlite $sqlite_rc, postgresql $postgres_rc, browser $browser_rc"
[ "$sqlite_rc" = 0 ] && [ "$postgres_rc" = 0 ] && [ "$browser_rc" = 0 ]
