/* Unit tests of espfab/store_cert.h: identity profiles and the
 * certificate lifecycle issued -> delivered / superseded, with its audit.
 * Under tests/pg/run_unit.sh the same tests run on PostgreSQL
 * (unit_store_cert_pg); the schema's triggers there are test_store_pg's. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>
#include <sqlite3.h>

#include "espfab/part.h"
#include "espfab/store_cert.h"
#include "store_testutil.h"

#define MAC "24:0a:c4:00:00:09"

static const char table_csv[] = "nvs,data,nvs,0x9000,0x6000,\n"
				"esp_secure_cert,0x3F,,0xF000,0x2000,\n"
				"phy,data,phy,0x11000,0x1000,\n"
				"factory,app,factory,0x20000,1M,\n";

static struct store *open_db(char **dir, const uint8_t *seal_key)
{
	struct store *s = NULL;
	struct store_err err = {0};
	struct part_opts o;
	struct part_err perr;
	struct part_table *t = NULL;
	uint8_t bin[PART_TABLE_MAX_LEN];
	char *db;

	*dir = tu_tmpdir();
	db = tu_db(*dir, "t.db");
	assert_non_null(db);
	assert_int_equal(store_open(&s, db, STORE_OPEN_CREATE, seal_key, &err), 0);
	free(db);
	part_opts_init(&o);
	assert_int_equal(part_csv_parse((const uint8_t *)table_csv, strlen(table_csv), &o, &t, &perr), 0);
	assert_int_equal(part_bin_write(t, &o, bin, &perr), 0);
	part_table_free(t);
	struct store_product_spec spec = {.name = "lamp", .config_csv = tu_config, .config_len = strlen(tu_config),
					  .config_source = "config.csv", .part_table = bin,
					  .part_table_len = sizeof(bin), .part_label = "nvs", .part_offset = 0x9000,
					  .part_size = 0x6000, .nvs_version = 2};
	if (store_product_add(s, &spec, &err))
		fail_msg("%s", err.msg);
	return s;
}

static struct store_cert_new cert(int64_t pid, const char *serial, const char *sha, const uint8_t *key)
{
	static const uint8_t der[] = {0x30, 0x03, 0x02, 0x01, 0x01}; /* stand-in bytes: the store keeps them */
	return (struct store_cert_new){.product_id = pid, .product = "lamp", .mac = MAC, .record_id = "1",
				       .station = "st1", .port = "p0", .serial = serial, .sha256 = sha,
				       .ca_sha256 = "cacacacacacacacacacacacacacacacacacacacacacacacacacacacacacacaca",
				       .subject = "CN=" MAC, .not_after = "2046-01-01T00:00:00Z", .der = der,
				       .der_len = sizeof(der), .key = key, .key_len = key ? strlen((const char *)key) + 1 : 0,
				       .job_id = 7};
}

#define SHA1 "1111111111111111111111111111111111111111111111111111111111111111"
#define SHA2 "2222222222222222222222222222222222222222222222222222222222222222"
#define SHA3 "3333333333333333333333333333333333333333333333333333333333333333"

static int64_t lamp_id(struct store *s)
{
	struct store_product *p = NULL;
	struct store_err err = {0};
	int64_t id;
	assert_int_equal(store_product_get(s, "lamp", &p, &err), 0);
	id = p->id;
	store_product_free(p);
	return id;
}

static void test_store_cert_profile(void **state)
{
	char *dir;
	struct store *s = open_db(&dir, NULL);
	struct store_err err = {0};
	struct store_identity *id = NULL;
	(void)state;

	assert_int_equal(store_identity_get(s, lamp_id(s), &id, &err), STORE_ENOTFOUND);
	assert_int_equal(store_identity_set(s, "lamp", "{}", "nope", &err), STORE_EINPUT);
	assert_string_equal(err.msg, "product lamp: no 'nope' partition in its table");
	assert_int_equal(store_identity_set(s, "lamp", "{}", "phy", &err), STORE_EINPUT);
	assert_non_null(strstr(err.msg, "type 0x01, an esp_secure_cert partition is 0x3F"));
	assert_int_equal(store_identity_set(s, "lamp", "{\"p\":1}", "esp_secure_cert", &err), 0);
	assert_int_equal(store_identity_get(s, lamp_id(s), &id, &err), 0);
	assert_string_equal(id->profile_json, "{\"p\":1}");
	assert_int_equal(id->part_offset, 0xF000);
	assert_int_equal(id->part_size, 0x2000);
	store_identity_free(id);
	assert_int_equal(store_identity_set(s, "lamp", "{\"p\":2}", "esp_secure_cert", &err), STORE_EEXIST);
	assert_int_equal(store_identity_set(s, "ghost", "{}", "esp_secure_cert", &err), STORE_ENOTFOUND);
	store_close(s);
	tu_rmrf(dir);
}

static void test_store_cert_lifecycle(void **state)
{
	char *dir;
	struct store *s = open_db(&dir, NULL);
	struct store_err err = {0};
	struct store_cert *c = NULL;
	struct store_cert_new n;
	json_t *j = NULL, *a = NULL;
	int64_t pid = lamp_id(s);
	(void)state;

	assert_int_equal(store_cert_live(s, pid, MAC, &c, &err), STORE_ENOTFOUND);
	n = cert(pid, "4a01", SHA1, NULL);
	assert_int_equal(store_cert_add(s, &n, &err), 0);
	assert_int_equal(store_cert_live(s, pid, "24-0A-C4-00-00-09", &c, &err), 0);
	assert_string_equal(c->state, "issued");
	assert_string_equal(c->serial, "4a01");
	assert_int_equal(c->der_len, 5);
	assert_null(c->key);
	store_cert_free(c);

	/* Never delivered: a second issue supersedes the first. */
	n = cert(pid, "4a02", SHA2, NULL);
	assert_int_equal(store_cert_add(s, &n, &err), 0);
	assert_int_equal(store_cert_live(s, pid, MAC, &c, &err), 0);
	assert_string_equal(c->serial, "4a02");
	store_cert_free(c);

	assert_int_equal(store_cert_delivered(s, pid, MAC, "st1", "p0", 8, &err), 0);
	assert_int_equal(store_cert_delivered(s, pid, MAC, "st1", "p0", 9, &err), 0); /* no-op */
	assert_int_equal(store_cert_live(s, pid, MAC, &c, &err), 0);
	assert_string_equal(c->state, "delivered");
	store_cert_free(c);
	/* Delivered: the device keeps that one. */
	n = cert(pid, "4a03", SHA3, NULL);
	assert_int_equal(store_cert_add(s, &n, &err), STORE_ESTATE);

	struct store_cert_filter all = {.state = "all"}, live = {0};
	assert_int_equal(store_cert_query(s, &all, &j, &err), 0);
	assert_int_equal(json_array_size(json_object_get(j, "certificates")), 2);
	json_decref(j);
	assert_int_equal(store_cert_query(s, &live, &j, &err), 0);
	json_t *only = json_array_get(json_object_get(j, "certificates"), 0);
	assert_int_equal(json_array_size(json_object_get(j, "certificates")), 1);
	assert_string_equal(json_string_value(json_object_get(only, "serial")), "4a02");
	assert_string_equal(json_string_value(json_object_get(only, "state")), "delivered");
	assert_true(json_is_false(json_object_get(only, "key_kept")));
	json_decref(j);

	/* The audit names each certificate by serial and fingerprint. */
	struct store_audit_filter af = {.mac = MAC};
	assert_int_equal(store_query_audit(s, &af, &a, &err), 0);
	const char *want[][3] = {{"4a01", SHA1, "issued"}, {"4a01", SHA1, "superseded"}, {"4a02", SHA2, "issued"},
				 {"4a02", SHA2, "delivered"}};
	json_t *rows = json_object_get(a, "audit");
	assert_int_equal(json_array_size(rows), 4);
	for (size_t i = 0; i < 4; i++) {
		json_t *r = json_array_get(rows, i);
		assert_string_equal(json_string_value(json_object_get(r, "event")), "certificate");
		assert_string_equal(json_string_value(json_object_get(r, "cert_serial")), want[i][0]);
		assert_string_equal(json_string_value(json_object_get(r, "image_sha256")), want[i][1]);
		assert_string_equal(json_string_value(json_object_get(r, "result")), want[i][2]);
	}
	json_decref(a);

	/* The schema refuses what the API never does (on PostgreSQL:
	 * test_store_pg's forgeries). */
	if (tu_is_pg()) {
		store_close(s);
		tu_rmrf(dir);
		return;
	}
	sqlite3 *raw = NULL;
	char *db = tu_path(dir, "t.db");
	assert_int_equal(sqlite3_open(db, &raw), SQLITE_OK);
	assert_int_not_equal(sqlite3_exec(raw, "UPDATE device_certs SET serial = 'x'", NULL, NULL, NULL), SQLITE_OK);
	assert_int_not_equal(sqlite3_exec(raw, "UPDATE device_certs SET state = 'issued' WHERE state = 'delivered'",
					  NULL, NULL, NULL),
			     SQLITE_OK);
	assert_int_not_equal(sqlite3_exec(raw, "DELETE FROM device_certs", NULL, NULL, NULL), SQLITE_OK);
	sqlite3_close(raw);
	free(db);
	store_close(s);
	tu_rmrf(dir);
}

static void test_store_cert_serial_unique_per_ca(void **state)
{
	char *dir;
	struct store *s = open_db(&dir, NULL);
	struct store_err err = {0};
	int64_t pid = lamp_id(s);
	struct store_cert_new n = cert(pid, "4a01", SHA1, NULL);
	(void)state;

	assert_int_equal(store_cert_add(s, &n, &err), 0);
	n.mac = "24:0a:c4:00:00:0a";
	n.sha256 = SHA2;
	assert_int_equal(store_cert_add(s, &n, &err), STORE_EEXIST);
	assert_non_null(strstr(err.msg, "serial 4a01 repeats"));
	store_close(s);
	tu_rmrf(dir);
}

static void test_store_cert_kept_key(void **state)
{
	static const uint8_t seal[STORE_SEAL_KEY_LEN] = {1, 2, 3};
	static const uint8_t key[] = "-----BEGIN EC PRIVATE KEY-----\nstand-in\n-----END EC PRIVATE KEY-----\n";
	char *dir;
	struct store *s = open_db(&dir, NULL);
	struct store_err err = {0};
	struct store_cert *c = NULL;
	int64_t pid = lamp_id(s);
	struct store_cert_new n = cert(pid, "4a01", SHA1, key);
	(void)state;

	/* No seal key: the key is not kept in the clear. */
	assert_int_equal(store_cert_add(s, &n, &err), STORE_ESEAL);
	assert_non_null(strstr(err.msg, "seal key"));
	store_close(s);
	tu_rmrf(dir);

	s = open_db(&dir, seal);
	pid = lamp_id(s);
	n = cert(pid, "4a01", SHA1, key);
	assert_int_equal(store_cert_add(s, &n, &err), 0);
	assert_int_equal(store_cert_live(s, pid, MAC, &c, &err), 0);
	assert_non_null(c->key);
	assert_int_equal(c->key_len, sizeof(key));
	assert_memory_equal(c->key, key, sizeof(key));
	store_cert_free(c);
	/* Sealed at rest: the key's text is nowhere in the file (on
	 * PostgreSQL: test_store_pg reads the server's rows). */
	if (!tu_is_pg()) {
		char *db = tu_path(dir, "t.db");
		char cmd[600];
		snprintf(cmd, sizeof(cmd), "sqlite3 '%s' 'PRAGMA wal_checkpoint' >/dev/null 2>&1; grep -q stand-in '%s' '%s-wal' 2>/dev/null", db, db, db);
		assert_int_not_equal(system(cmd), 0);
		free(db);
	}
	store_close(s);
	tu_rmrf(dir);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_store_cert_profile),
	    cmocka_unit_test(test_store_cert_lifecycle),
	    cmocka_unit_test(test_store_cert_serial_unique_per_ca),
	    cmocka_unit_test(test_store_cert_kept_key),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
