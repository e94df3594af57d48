/* Identities and HMAC keys on the PostgreSQL backend, against a real
 * server that tests/pg/run_unit.sh starts (ESPFAB_TEST_PG): schemas/pg 004
 * and 005's rules refuse rewrites whoever asks, kept keys are only
 * ciphertext on the server, the station role of roles.sql can issue,
 * deliver and burn but not set a product's identity or encryption, and
 * stations issuing for one MAC at once take turns (one live certificate),
 * and those calls lock the device's record first, as a claim does.
 * The behaviours both backends share are test_store_cert / test_store_hmac
 * (unit_store_cert_pg, unit_store_hmac_pg). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <libpq-fe.h>
#include <sys/wait.h>
#include <unistd.h>

#include "espfab/store_cert.h"
#include "espfab/store_hmac.h"
#include "pg_raw.h"
#include "store_testutil.h"

#define MAC "24:0a:c4:00:00:09"
#define SHA_A "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
#define SHA_B "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb"
#define SHA_C "cccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccc"
#define SHA_D "dddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddd"
#define CA "cacacacacacacacacacacacacacacacacacacacacacacacacacacacacacacaca"

static const uint8_t seal_key[32] = {3, 1, 4, 1, 5, 9, 2, 6};
static const uint8_t kept_key[] = "-----BEGIN EC PRIVATE KEY-----\nstand-in\n-----END EC PRIVATE KEY-----\n";

/* The SQLSTATE sql failed with into state ("" when it ran). */
static void raw_try(PGconn *c, const char *sql, char *state, size_t cap)
{
	PGresult *r = PQexec(c, sql);
	const char *st = PQresultErrorField(r, PG_DIAG_SQLSTATE);
	ExecStatusType t = PQresultStatus(r);
	snprintf(state, cap, "%s", t == PGRES_COMMAND_OK || t == PGRES_TUPLES_OK ? "" : st ? st : "?");
	PQclear(r);
}

static void raw_want(PGconn *c, const char *sql, const char *want)
{
	PGresult *r = PQexec(c, sql);
	if (PQresultStatus(r) != PGRES_TUPLES_OK || PQntuples(r) != 1)
		fail_msg("query failed: %s: %s", sql, PQerrorMessage(c));
	if (strcmp(PQgetvalue(r, 0, 0), want))
		fail_msg("%s: %s, not %s", sql, PQgetvalue(r, 0, 0), want);
	PQclear(r);
}

static struct store_cert_new cert(int64_t pid, const char *mac, const char *serial, const char *sha, int keep)
{
	static const uint8_t der[] = {0x30, 0x03, 0x02, 0x01, 0x01};
	return (struct store_cert_new){.product_id = pid,
				       .product = "lamp",
				       .mac = mac,
				       .station = "line1",
				       .port = "p0",
				       .serial = serial,
				       .sha256 = sha,
				       .ca_sha256 = CA,
				       .subject = "CN=device",
				       .not_after = "2046-01-01T00:00:00Z",
				       .der = der,
				       .der_len = sizeof(der),
				       .key = keep ? kept_key : NULL,
				       .key_len = keep ? sizeof(kept_key) : 0,
				       .job_id = 1};
}

static struct store_hmac_event hmac_ev(int64_t pid, const char *mac)
{
	return (struct store_hmac_event){.station = "line1",
					 .port = "p0",
					 .mac = mac,
					 .product_id = pid,
					 .key_block = 1,
					 .purpose = 8,
					 .protect = 3};
}

static int64_t lamp(struct store *s)
{
	struct store_product *p = NULL;
	struct store_err err = {0};
	assert_int_equal(store_product_get(s, "lamp", &p, &err), 0);
	int64_t id = p->id;
	store_product_free(p);
	return id;
}

/* A database with product lamp (HMAC NVS encryption, keys kept), one
 * delivered, one superseded and one issued certificate (the delivered and
 * issued ones keep their keys), one burnt HMAC key. */
static char *filled_db(void)
{
	char *db = tu_db(".", "pg"); /* a fresh server database: the file name is unused */
	struct store *s = NULL;
	struct store_err err = {0};
	uint8_t key[STORE_HMAC_KEY_LEN];
	assert_non_null(db);
	assert_int_equal(store_open(&s, db, STORE_OPEN_CREATE, seal_key, &err), 0);
	assert_int_equal(tu_add_product(s, "lamp", NULL, 0, &err), 0);
	int64_t pid = lamp(s);
	struct store_cert_new a = cert(pid, MAC, "4a01", SHA_A, 1);
	struct store_cert_new b = cert(pid, "24:0a:c4:00:00:0a", "4a02", SHA_B, 1);
	assert_int_equal(store_cert_add(s, &a, &err), 0);
	assert_int_equal(store_cert_delivered(s, pid, MAC, "line1", "p0", 1, &err), 0);
	struct store_cert_new b0 = cert(pid, "24:0a:c4:00:00:0a", "4a00", SHA_D, 0);
	assert_int_equal(store_cert_add(s, &b0, &err), 0);
	assert_int_equal(store_cert_add(s, &b, &err), 0); /* 4a00 superseded */
	struct store_hmac_product hp = {.key_block = 1, .protect = 3, .seal = 1};
	assert_int_equal(store_hmac_product_set(s, "lamp", &hp, &err), 0);
	for (int i = 0; i < STORE_HMAC_KEY_LEN; i++)
		key[i] = (uint8_t)(0xC0 + i);
	struct store_hmac_event e = hmac_ev(pid, MAC);
	assert_int_equal(store_hmac_set(s, &e, STORE_HMAC_BURNING, key, &err), 0);
	assert_int_equal(store_hmac_set(s, &e, STORE_HMAC_BURNT, NULL, &err), 0);
	store_close(s);
	return db;
}

static void test_store_pg_ident_rules_hold_for_the_owner(void **state)
{
	(void)state;
	char *db = filled_db();
	char st[8];
	/* The test server's user is a superuser and owns the tables: only the
	 * triggers stand between it and a rewrite. */
	PGconn *c = raw_open(db);
	raw_try(c,
		"INSERT INTO product_identity (product_id, profile, part_offset, part_size, created) "
		"SELECT id, '{}', 61440, 8192, 'now' FROM products",
		st, sizeof(st));
	assert_string_equal(st, "");
	static const char *const forged[] = {
		"UPDATE product_identity SET profile = '{\"x\":1}'",
		"DELETE FROM product_identity",
		"TRUNCATE product_identity",
		"UPDATE device_certs SET serial = 'x'",
		"UPDATE device_certs SET cert = '\\x00'::bytea",
		"UPDATE device_certs SET mac = '24:0a:c4:00:00:ff' WHERE serial = '4a02'",
		"UPDATE device_certs SET state = 'issued' WHERE state = 'delivered'",
		"UPDATE device_certs SET state = 'delivered' WHERE state = 'superseded'",
		"DELETE FROM device_certs",
		"TRUNCATE device_certs",
		"UPDATE product_nvs_encryption SET key_block = 2",
		"DELETE FROM product_nvs_encryption",
		"TRUNCATE product_nvs_encryption",
		"UPDATE device_hmac_keys SET state = 'key-burning'",
		"UPDATE device_hmac_keys SET key_sealed = '\\x00'::bytea",
		"DELETE FROM device_hmac_keys",
		"TRUNCATE device_hmac_keys",
	};
	for (size_t i = 0; i < sizeof(forged) / sizeof(forged[0]); i++) {
		raw_try(c, forged[i], st, sizeof(st));
		if (strcmp(st, "P0001"))
			fail_msg("%s: %s, not refused by a trigger", forged[i], st[0] ? st : "accepted");
	}
	/* what the API does is allowed: delivering the issued one */
	raw_try(c, "UPDATE device_certs SET state = 'delivered' WHERE serial = '4a02'", st, sizeof(st));
	assert_string_equal(st, "");
	/* kept keys are ciphertext on the server: neither the PEM text nor
	 * the HMAC key's bytes are there */
	raw_want(c, "SELECT count(*) FROM device_certs WHERE key_sealed IS NOT NULL", "2");
	raw_want(c,
		 "SELECT count(*) FROM device_certs WHERE position(convert_to('stand-in', 'UTF8') in key_sealed) > 0",
		 "0");
	raw_want(c, "SELECT count(*) FROM device_hmac_keys WHERE key_sealed IS NOT NULL", "1");
	raw_want(c, "SELECT count(*) FROM device_hmac_keys WHERE position('\\xc0c1c2c3'::bytea in key_sealed) > 0",
		 "0");
	/* the audit names certificates and burns in their own columns */
	raw_want(c,
		 "SELECT string_agg(cert_serial || ':' || result, ',' ORDER BY id) FROM audit "
		 "WHERE event = 'certificate'",
		 "4a01:issued,4a01:delivered,4a00:issued,4a00:superseded,4a02:issued");
	raw_want(c, "SELECT string_agg(efuse || ':' || result, ',' ORDER BY id) FROM audit WHERE event = 'efuse'",
		 "BLOCK_KEY1 HMAC_UP read,write:key-burning,BLOCK_KEY1 HMAC_UP read,write:key-burnt");
	PQfinish(c);
	free(db);
}

/* roles.sql's station: the run-time calls work, setting a product's
 * identity or encryption and rewriting a certificate are refused. */
static void test_store_pg_ident_station_role(void **state)
{
	(void)state;
	char *db = filled_db();
	char cmd[1024], st[8], uri[1024];
	struct store *s = NULL;
	struct store_err err = {0};
	snprintf(cmd, sizeof(cmd), "psql -v ON_ERROR_STOP=1 -qAt -d '%s' -f '%s/../schemas/pg/roles.sql' >/dev/null",
		 db, ESPFAB_TEST_DATA "/..");
	assert_int_equal(system(cmd), 0);
	PGconn *c = raw_open(db);
	raw_try(c, "DROP ROLE IF EXISTS line_ident", st, sizeof(st));
	raw_try(c, "CREATE ROLE line_ident LOGIN IN ROLE espfab_station", st, sizeof(st));
	assert_string_equal(st, "");
	PQfinish(c);
	const char *at = strchr(db, '@');
	assert_non_null(at);
	snprintf(uri, sizeof(uri), "postgresql://line_ident%s", at);

	assert_int_equal(store_open(&s, uri, 0, seal_key, &err), 0);
	int64_t pid = lamp(s);
	struct store_cert_new n = cert(pid, "24:0a:c4:00:00:0a", "4a03", SHA_C, 1);
	assert_int_equal(store_cert_add(s, &n, &err), 0); /* supersedes 4a02 */
	assert_int_equal(store_cert_delivered(s, pid, n.mac, "line_ident", "p0", 2, &err), 0);
	struct store_cert *live = NULL;
	assert_int_equal(store_cert_live(s, pid, n.mac, &live, &err), 0);
	assert_string_equal(live->serial, "4a03");
	assert_memory_equal(live->key, kept_key, sizeof(kept_key));
	store_cert_free(live);
	struct store_hmac_event e = hmac_ev(pid, MAC);
	assert_int_equal(store_hmac_set(s, &e, STORE_HMAC_DONE, NULL, &err), 0);
	e = hmac_ev(pid, "24:0a:c4:00:00:0b");
	assert_int_equal(store_hmac_set(s, &e, STORE_HMAC_BURNING, NULL, &err), 0);
	assert_int_equal(store_hmac_set(s, &e, STORE_HMAC_REWORK, NULL, &err), 0);
	struct store_hmac_product hp = {.key_block = 2};
	assert_int_not_equal(tu_add_product(s, "other", NULL, 0, &err), 0);
	assert_int_not_equal(store_hmac_product_set(s, "lamp", &hp, &err), 0);
	assert_non_null(strstr(err.msg, "permission denied"));
	store_close(s);

	c = raw_open(uri);
	static const char *const denied[] = {
		"INSERT INTO product_identity (product_id, profile, part_offset, part_size, created) "
		"SELECT id, '{}', 61440, 8192, 'now' FROM products",
		"INSERT INTO product_nvs_encryption (product_id, scheme, key_block, protect, seal_key, created) "
		"SELECT id, 'hmac', 1, 0, 0, 'now' FROM products WHERE name = 'lamp'",
		"UPDATE device_certs SET serial = 'x'",
		"UPDATE device_certs SET cert = '\\x00'::bytea",
		"UPDATE device_hmac_keys SET mac = '24:0a:c4:00:00:ff'",
		"DELETE FROM device_certs",
		"DELETE FROM device_hmac_keys",
		"ALTER TABLE device_certs DISABLE TRIGGER device_certs_rules",
	};
	for (size_t i = 0; i < sizeof(denied) / sizeof(denied[0]); i++) {
		raw_try(c, denied[i], st, sizeof(st));
		if (strncmp(st, "42", 2))
			fail_msg("%s: %s, not refused for want of privilege", denied[i], st[0] ? st : "accepted");
	}
	raw_want(c,
		 "SELECT string_agg(DISTINCT db_user, ',') FROM audit WHERE event IN ('certificate', 'efuse') "
		 "AND station = 'line_ident'",
		 "line_ident");
	PQfinish(c);
	free(db);
}

/* One device seen on several lines at once: every issue succeeds (each
 * supersedes the one before, as under SQLite's single writer), and one
 * certificate is live at the end. Without the MAC's lock the second of
 * two racing issues hits the live index and fails. */
static void test_store_pg_ident_concurrent_issue_one_live(void **state)
{
	(void)state;
	enum { KIDS = 6, ROUNDS = 15 };
	char *db = filled_db();
	pid_t kids[KIDS];
	int go[2];
	assert_int_equal(pipe(go), 0);
	for (int k = 0; k < KIDS; k++) {
		kids[k] = fork();
		assert_true(kids[k] >= 0);
		if (kids[k])
			continue;
		struct store *s = NULL;
		struct store_err err = {0};
		char b;
		close(go[1]);
		if (store_open(&s, db, 0, seal_key, &err) || read(go[0], &b, 1) != 0)
			_exit(2);
		int64_t pid = lamp(s);
		for (int i = 0; i < ROUNDS; i++) {
			char serial[16], sha[65];
			snprintf(serial, sizeof(serial), "k%d-%d", k, i);
			snprintf(sha, sizeof(sha), "%02d%02d%060d", k, i, 0);
			struct store_cert_new n = cert(pid, "24:0a:c4:00:00:0c", serial, sha, 0);
			if (store_cert_add(s, &n, &err)) {
				fprintf(stderr, "station %d: %s\n", k, err.msg);
				_exit(1);
			}
		}
		store_close(s);
		_exit(0);
	}
	close(go[1]); /* all start together */
	for (int k = 0; k < KIDS; k++) {
		int wst = 0;
		assert_int_equal(waitpid(kids[k], &wst, 0), kids[k]);
		assert_true(WIFEXITED(wst));
		assert_int_equal(WEXITSTATUS(wst), 0);
	}
	close(go[0]);
	PGconn *c = raw_open(db);
	raw_want(c,
		 "SELECT count(*) FILTER (WHERE state = 'issued') || '/' || count(*) FROM device_certs "
		 "WHERE mac = '24:0a:c4:00:00:0c'",
		 "1/90");
	raw_want(c, "SELECT count(*) FROM audit WHERE mac = '24:0a:c4:00:00:0c' AND result = 'superseded'", "89");
	PQfinish(c);
	free(db);
}

/* A device's HMAC and certificate calls take its record's row lock first,
 * the order of a claim and a job transition (record, then job): held
 * elsewhere, they wait for it. Without that, a station's round doing them
 * before a job transition and another's claiming the same MAC first could
 * deadlock. */
static void test_store_pg_ident_locks_the_record_first(void **state)
{
	(void)state;
	char *db = filled_db();
	struct store *s = NULL;
	struct store_err err = {0};
	char *csv = tu_values(1, 1);
	assert_int_equal(store_open(&s, db, 0, seal_key, &err), 0);
	assert_int_equal(tu_import(s, "lamp", csv, &err), 0);
	free(csv);
	store_record_free(tu_claim(s, "24:0a:c4:00:00:0d", 0));
	int64_t pid = lamp(s);
	store_close(s);
	for (int call = 0; call < 2; call++) {
		PGconn *c = raw_open(db);
		char st[8];
		raw_try(c, "BEGIN", st, sizeof(st));
		raw_try(c, "SELECT id FROM records WHERE mac = '24:0a:c4:00:00:0d' FOR UPDATE", st, sizeof(st));
		assert_string_equal(st, "");
		pid_t kid = fork();
		assert_true(kid >= 0);
		if (!kid) {
			struct store_hmac_event e = hmac_ev(pid, "24:0a:c4:00:00:0d");
			struct store_cert_new n = cert(pid, "24:0a:c4:00:00:0d", "4a0d", SHA_C, 0);
			if (store_open(&s, db, 0, seal_key, &err))
				_exit(2);
			int rc = call ? store_cert_add(s, &n, &err) : store_hmac_set(s, &e, STORE_HMAC_BURNING, NULL, &err);
			store_close(s);
			_exit(rc ? 1 : 0);
		}
		/* until the call waits on a lock another transaction holds */
		PGconn *w = raw_open(db);
		int waiting = 0, wst = 0;
		for (int i = 0; i < 200 && !waiting; i++) {
			PGresult *r = PQexec(w, "SELECT count(*) FROM pg_locks WHERE NOT granted AND locktype = 'transactionid'");
			waiting = PQresultStatus(r) == PGRES_TUPLES_OK && strcmp(PQgetvalue(r, 0, 0), "0");
			PQclear(r);
			if (!waiting)
				usleep(50 * 1000);
		}
		PQfinish(w);
		if (!waiting)
			fail_msg("call %d did not wait for the record's lock", call);
		assert_int_equal(waitpid(kid, &wst, WNOHANG), 0); /* still waiting */
		raw_try(c, "COMMIT", st, sizeof(st));
		assert_int_equal(waitpid(kid, &wst, 0), kid);
		assert_true(WIFEXITED(wst));
		assert_int_equal(WEXITSTATUS(wst), 0);
		PQfinish(c);
	}
	free(db);
}

int main(void)
{
	if (!tu_is_pg()) {
		fprintf(stderr, "test_store_pg_ident: ESPFAB_TEST_PG is not set: run it through tests/pg/run_unit.sh, "
				"which starts a PostgreSQL server\n");
		return 1;
	}
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_store_pg_ident_rules_hold_for_the_owner),
		cmocka_unit_test(test_store_pg_ident_station_role),
		cmocka_unit_test(test_store_pg_ident_concurrent_issue_one_live),
		cmocka_unit_test(test_store_pg_ident_locks_the_record_first),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
