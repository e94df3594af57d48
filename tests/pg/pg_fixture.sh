#!/bin/sh
# A throw-away PostgreSQL server for the tests: initdb + pg_ctl in a
# temporary folder, listening only on a unix socket in that folder, run as
# an unprivileged user (CI runs as root: the user espfab-pgtest is created
# when missing, and the server runs under runuser). Source it, then:
#   pgfx_start           start; sets PGFX_DIR, PGFX_SOCK, PGFX_PORT, PGFX_USER,
#                        PGFX_PREFIX (a libpq URI without the database name)
#                        and exports PGHOST/PGPORT/PGUSER for psql
#   pgfx_createdb NAME   a fresh database; prints its URI
#   pgfx_stop_server     stop it (fast: running transactions are aborted)
#   pgfx_start_server    start it again on the same folder
#   pgfx_stop            stop and remove everything
# A server that cannot start is an error (exit 1 with the log), never a skip.

PGFX_BIN=${PGFX_BIN:-}
if [ -z "$PGFX_BIN" ]; then
	for d in /usr/lib/postgresql/*/bin; do
		[ -x "$d/initdb" ] && PGFX_BIN=$d
	done
fi
PGFX_USER=espfab_admin

pgfx_die() {
	echo "pg_fixture: $*" >&2
	[ -n "${PGFX_DIR:-}" ] && [ -f "$PGFX_DIR/log" ] && tail -n 20 "$PGFX_DIR/log" >&2
	exit 1
}

# Runs a server binary as the owner of the data folder.
pgfx_as() {
	if [ "$(id -u)" -eq 0 ]; then
		runuser -u espfab-pgtest -- "$@"
	else
		"$@"
	fi
}

pgfx_start() {
	[ -n "$PGFX_BIN" ] && [ -x "$PGFX_BIN/initdb" ] ||
		pgfx_die "no PostgreSQL server binaries (initdb) in /usr/lib/postgresql/*/bin: run tools/deps (package postgresql)"
	if [ "$(id -u)" -eq 0 ] && ! id espfab-pgtest >/dev/null 2>&1; then
		useradd --system --no-create-home --home-dir /nonexistent --shell /usr/sbin/nologin espfab-pgtest 2>/dev/null ||
			id espfab-pgtest >/dev/null 2>&1 || pgfx_die "cannot create the user espfab-pgtest"
	fi
	PGFX_DIR=$(mktemp -d /tmp/espfab-pg-XXXXXX) || pgfx_die "mktemp failed"
	chmod 755 "$PGFX_DIR"
	mkdir "$PGFX_DIR/data" "$PGFX_DIR/sock"
	[ "$(id -u)" -eq 0 ] && chown espfab-pgtest "$PGFX_DIR" "$PGFX_DIR/data" "$PGFX_DIR/sock"
	PGFX_SOCK=$PGFX_DIR/sock
	PGFX_PORT=5432
	pgfx_as "$PGFX_BIN/initdb" -D "$PGFX_DIR/data" -U "$PGFX_USER" --auth=trust -E UTF8 --locale=C.UTF-8 \
		>"$PGFX_DIR/initdb.log" 2>&1 || { cat "$PGFX_DIR/initdb.log" >&2; pgfx_die "initdb failed"; }
	cat >>"$PGFX_DIR/data/postgresql.conf" <<CONF
listen_addresses = ''
unix_socket_directories = '$PGFX_SOCK'
port = $PGFX_PORT
max_connections = 60
shared_buffers = 32MB
fsync = on
synchronous_commit = on
CONF
	pgfx_start_server
	PGFX_PREFIX="postgresql://$PGFX_USER@$(echo "$PGFX_SOCK" | sed 's|/|%2F|g'):$PGFX_PORT/"
	PGHOST=$PGFX_SOCK PGPORT=$PGFX_PORT PGUSER=$PGFX_USER
	export PGFX_DIR PGFX_SOCK PGFX_PORT PGFX_USER PGFX_PREFIX PGFX_BIN PGHOST PGPORT PGUSER
}

pgfx_start_server() {
	[ "$(id -u)" -eq 0 ] && touch "$PGFX_DIR/log" && chown espfab-pgtest "$PGFX_DIR/log"
	pgfx_as "$PGFX_BIN/pg_ctl" -D "$PGFX_DIR/data" -l "$PGFX_DIR/log" -w -t 60 start >/dev/null ||
		pgfx_die "the server did not start"
}

pgfx_stop_server() {
	pgfx_as "$PGFX_BIN/pg_ctl" -D "$PGFX_DIR/data" -m fast -w -t 60 stop >/dev/null ||
		pgfx_die "the server did not stop"
}

pgfx_createdb() {
	"$PGFX_BIN/psql" -qAt -d "${PGFX_PREFIX}postgres" -c "CREATE DATABASE \"$1\"" >/dev/null ||
		pgfx_die "CREATE DATABASE $1 failed"
	echo "${PGFX_PREFIX}$1"
}

pgfx_psql() {
	"$PGFX_BIN/psql" -v ON_ERROR_STOP=1 -qAt "$@"
}

pgfx_stop() {
	[ -n "${PGFX_DIR:-}" ] || return 0
	pgfx_as "$PGFX_BIN/pg_ctl" -D "$PGFX_DIR/data" -m immediate -w stop >/dev/null 2>&1
	rm -rf "$PGFX_DIR"
	PGFX_DIR=
}
