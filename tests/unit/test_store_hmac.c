/* The store's HMAC NVS encryption (schema 005, espfab/store_hmac.h): the
 * product setting, the device state machine (in C and in the schema's
 * triggers), the sealed key, the audit. Under tests/pg/run_unit.sh the
 * same tests run on PostgreSQL (unit_store_hmac_pg); the schema's triggers
 * there are test_store_pg's. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>
#include <openssl/crypto.h>
#include <sqlite3.h>

#include "espfab/store_hmac.h"
#include "store_testutil.h"

static const uint8_t seal_key[STORE_SEAL_KEY_LEN] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16,
						     17, 18, 19, 20, 21, 22, 23, 24, 25, 26, 27, 28, 29, 30, 31, 32};

struct fx {
	char *dir, *db;
	struct store *s;
	int64_t pid;
};

static int setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));
	struct store_err err = {0};
	struct store_product *p = NULL;

	f->dir = tu_tmpdir();
	f->db = tu_db(f->dir, "t.db");
	if (store_open(&f->s, f->db, STORE_OPEN_CREATE, seal_key, &err) || tu_add_product(f->s, "lamp", NULL, 0, &err) ||
	    store_product_get(f->s, "lamp", &p, &err)) {
		fprintf(stderr, "setup: %s\n", err.msg);
		return -1;
	}
	f->pid = p->id;
	store_product_free(p);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fx *f = *state;

	store_close(f->s);
	free(f->db);
	tu_rmrf(f->dir);
	free(f);
	return 0;
}

static const struct store_hmac_product hp1 = {.key_block = 1, .protect = 3, .seal = 1};

static void test_store_hmac_product(void **state)
{
	struct fx *f = *state;
	struct store_hmac_product got;
	struct store_err err = {0};
	json_t *q = NULL;

	assert_int_equal(store_hmac_product_get(f->s, f->pid, &got, &err), STORE_ENOTFOUND);
	assert_int_equal(store_hmac_product_set(f->s, "lamp", &hp1, &err), 0);
	assert_int_equal(store_hmac_product_get(f->s, f->pid, &got, &err), 0);
	assert_int_equal(got.key_block, 1);
	assert_int_equal(got.protect, 3);
	assert_int_equal(got.seal, 1);
	/* fixed once set */
	assert_int_equal(store_hmac_product_set(f->s, "lamp", &hp1, &err), STORE_EEXIST);
	struct store_hmac_product bad = {.key_block = 6};
	assert_int_equal(store_hmac_product_set(f->s, "lamp", &bad, &err), STORE_EINPUT);
	assert_int_equal(store_hmac_product_set(f->s, "nosuch", &hp1, &err), STORE_ENOTFOUND);
	/* product.show carries it */
	json_t *req = json_pack("{s:s, s:s}", "cmd", "product.show", "name", "lamp");
	assert_int_equal(store_request(f->s, req, &q, &err), 0);
	json_t *e = json_object_get(json_array_get(json_object_get(q, "products"), 0), "nvs_encryption");
	assert_string_equal(json_string_value(json_object_get(e, "key_block")), "BLOCK_KEY1");
	assert_true(json_is_true(json_object_get(e, "seal_key")));
	json_decref(q);
	json_decref(req);
}

static void test_store_hmac_seal_needs_key(void **state)
{
	struct fx *f = *state;
	struct store *s2 = NULL;
	struct store_err err = {0};

	assert_int_equal(store_open(&s2, f->db, 0, NULL, &err), 0);
	assert_int_equal(store_hmac_product_set(s2, "lamp", &hp1, &err), STORE_ESEAL);
	assert_non_null(strstr(err.msg, "--seal-key"));
	store_close(s2);
}

static void ev(struct fx *f, struct store_hmac_event *e, const char *mac)
{
	memset(e, 0, sizeof(*e));
	e->station = "st1";
	e->mac = mac;
	e->product_id = f->pid;
	e->key_block = 1;
	e->purpose = 8;
	e->protect = 3;
}

static void test_store_hmac_states(void **state)
{
	struct fx *f = *state;
	struct store_hmac_event e;
	struct store_hmac_device d;
	struct store_err err = {0};
	uint8_t key[32];
	char hex[65];

	for (int i = 0; i < 32; i++)
		key[i] = (uint8_t)(0xC0 + i);
	ev(f, &e, "24:0A:C4:00:00:01");
	assert_int_equal(store_hmac_device_get(f->s, e.mac, 1, &d, &err), 0);
	assert_int_equal(d.state, STORE_HMAC_NONE);
	/* only key-burning starts a row */
	assert_int_equal(store_hmac_set(f->s, &e, STORE_HMAC_BURNT, NULL, &err), STORE_ESTATE);
	assert_int_equal(store_hmac_set(f->s, &e, STORE_HMAC_BURNING, key, &err), 0);
	assert_int_equal(store_hmac_device_get(f->s, "24-0a-c4-00-00-01", 1, &d, &err), 0);
	assert_int_equal(d.state, STORE_HMAC_BURNING);
	assert_true(d.has_key);
	assert_memory_equal(d.key, key, 32);
	/* a key is sealed only before the burn */
	assert_int_equal(store_hmac_set(f->s, &e, STORE_HMAC_BURNT, key, &err), STORE_EINPUT);
	assert_int_equal(store_hmac_set(f->s, &e, STORE_HMAC_BURNT, NULL, &err), 0);
	assert_int_equal(store_hmac_set(f->s, &e, STORE_HMAC_BURNING, NULL, &err), STORE_ESTATE);
	assert_int_equal(store_hmac_set(f->s, &e, STORE_HMAC_REFUSED, NULL, &err), STORE_ESTATE);
	assert_int_equal(store_hmac_set(f->s, &e, STORE_HMAC_DONE, NULL, &err), 0);
	assert_int_equal(store_hmac_set(f->s, &e, STORE_HMAC_REWORK, NULL, &err), STORE_ESTATE);
	assert_int_equal(store_hmac_device_get(f->s, e.mac, 1, &d, &err), 0);
	assert_int_equal(d.state, STORE_HMAC_DONE);
	assert_true(d.has_key); /* kept through the states */
	/* another block of the same chip is another row */
	e.key_block = 2;
	assert_int_equal(store_hmac_device_get(f->s, e.mac, 2, &d, &err), 0);
	assert_int_equal(d.state, STORE_HMAC_NONE);
	assert_int_equal(store_hmac_set(f->s, &e, STORE_HMAC_BURNING, NULL, &err), 0);
	assert_int_equal(store_hmac_set(f->s, &e, STORE_HMAC_REWORK, NULL, &err), 0);
	assert_int_equal(store_hmac_set(f->s, &e, STORE_HMAC_BURNING, NULL, &err), STORE_ESTATE);
	/* the audit: block, purpose, protection; never the key */
	json_t *a = NULL;
	struct store_audit_filter af = {0};
	assert_int_equal(store_query_audit(f->s, &af, &a, &err), 0);
	char *txt = json_dumps(a, 0);
	for (int i = 0; i < 32; i++)
		snprintf(hex + 2 * i, 3, "%02x", key[i]);
	assert_null(strstr(txt, hex));
	assert_null(strstr(txt, "c0c1c2c3"));
	assert_non_null(strstr(txt, "BLOCK_KEY1 HMAC_UP read,write"));
	assert_non_null(strstr(txt, "\"key-burnt\""));
	free(txt);
	json_decref(a);
	OPENSSL_cleanse(&d, sizeof(d));
}

/* The schema's triggers hold even against SQL behind the store's back. */
static void test_store_hmac_triggers(void **state)
{
	struct fx *f = *state;
	struct store_hmac_event e;
	struct store_err err = {0};
	uint8_t key[32] = {7};
	sqlite3 *raw = NULL;

	TU_SQLITE_ONLY();
	assert_int_equal(store_hmac_product_set(f->s, "lamp", &hp1, &err), 0);
	ev(f, &e, "24:0a:c4:00:00:02");
	assert_int_equal(store_hmac_set(f->s, &e, STORE_HMAC_BURNING, key, &err), 0);
	assert_int_equal(store_hmac_set(f->s, &e, STORE_HMAC_BURNT, NULL, &err), 0);
	assert_int_equal(sqlite3_open(f->db, &raw), SQLITE_OK);
	assert_int_not_equal(sqlite3_exec(raw, "UPDATE device_hmac_keys SET state = 'key-burning'", NULL, NULL, NULL),
			     SQLITE_OK);
	assert_int_not_equal(sqlite3_exec(raw, "UPDATE device_hmac_keys SET key_sealed = x'00'", NULL, NULL, NULL),
			     SQLITE_OK);
	assert_int_not_equal(sqlite3_exec(raw, "DELETE FROM device_hmac_keys", NULL, NULL, NULL), SQLITE_OK);
	assert_int_not_equal(sqlite3_exec(raw, "UPDATE product_nvs_encryption SET key_block = 2", NULL, NULL, NULL),
			     SQLITE_OK);
	sqlite3_close(raw);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_store_hmac_product, setup, teardown),
		cmocka_unit_test_setup_teardown(test_store_hmac_seal_needs_key, setup, teardown),
		cmocka_unit_test_setup_teardown(test_store_hmac_states, setup, teardown),
		cmocka_unit_test_setup_teardown(test_store_hmac_triggers, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
