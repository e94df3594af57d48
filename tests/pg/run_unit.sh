#!/bin/sh
# tests/pg/run_unit.sh TEST_BINARY [ARGS...]
# Runs one of the store's unit tests against the PostgreSQL backend: starts
# a private server (pg_fixture.sh), points ESPFAB_TEST_PG at it (the tests'
# tu_db() then makes a fresh database per fixture), runs the test, stops
# the server. No server, no pass: a server that cannot start fails the test.
set -eu
. "$(dirname "$0")/pg_fixture.sh"
trap pgfx_stop EXIT INT TERM
pgfx_start
export PATH="$PGFX_BIN:$PATH"
export ESPFAB_TEST_PG="$PGFX_PREFIX"
"$@"
