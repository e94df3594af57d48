/* A raw libpq connection behind the store's back, for the PostgreSQL
 * backend's own tests (forgeries against the triggers and grants). Include
 * after <cmocka.h> and <libpq-fe.h>. */
#ifndef ESPFAB_TEST_PG_RAW_H
#define ESPFAB_TEST_PG_RAW_H

/* The server's NOTICEs (a trigger's or DROP ... IF EXISTS's) are noise in
 * a test's output. */
static void pg_raw_no_notices(void *arg, const char *msg)
{
	(void)arg;
	(void)msg;
}

/* The test fails when the connection cannot be made. The caller PQfinish()es it. */
static PGconn *raw_open(const char *uri)
{
	PGconn *c = PQconnectdb(uri);
	if (PQstatus(c) != CONNECTION_OK)
		fail_msg("raw connection: %s", PQerrorMessage(c));
	PQsetNoticeProcessor(c, pg_raw_no_notices, NULL);
	return c;
}

#endif
