# espfabd against the test's own PostgreSQL server: the scaffold shared by
# daemon_pg.sh and daemon_pg_restart.sh. Source it after setting BIN; then
# pgd_setup NAME [product add options...] starts the server, creates
# database NAME with the lamp product and its records, and sets DB.
PGD_HERE=$(cd "$(dirname "$0")" && pwd)
EX=$(cd "$PGD_HERE/../../examples/lamp" && pwd)
. "$PGD_HERE/pg_fixture.sh"
. "$PGD_HERE/../integration/wait.sh"
. "$PGD_HERE/../integration/daemon_lib.sh"

pgd_setup() { # name [product add options...]
	ef_setup
	trap 'ef_cleanup; pgfx_stop' EXIT INT TERM
	pgfx_start
	DB=$(pgfx_createdb "$1")
	shift
	ef_db_init "$DB" "$@"
}

# daemon_lib reads records from $ef_dir/db: here they are on the server.
ef_record_of() { # mac
	"$BIN/espfab" --db "$DB" records list --json |
		python3 -c "import json,sys; r=[x for x in json.load(sys.stdin)['records'] if x['mac']=='$1']; print(' '.join((x['id']+' '+x['state']) for x in r))"
}
