/* HMAC NVS encryption through the real pipeline (pipeline_provision), the
 * station's own claim-time and state code (station_hmac.c), a real SQLite
 * store and the in-process simulator's eFuse controller. The test plays the
 * main thread; a "crash" is the main thread going away at a chosen point:
 * whatever it has not stored is lost, the store is closed, reopened and
 * recovered (store_recover, as espfabd does at startup), and the board is
 * run again. Each crash point is tried with a product that seals its keys
 * (the device must be finished with exactly one burn) and one that does not
 * (finished when nothing was burnt, else rework); every refusal burns
 * nothing and loses no record, and no record ever reaches two devices. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <openssl/crypto.h>

#include "espfab/efuse.h"
#include "espfab/nvs.h"
#include "espfab/nvs_decode.h"
#include "espfab/part.h"
#include "espfab/simdev.h"
#include "espfab/simdev_fakeport.h"
#include "espfab/store_hmac.h"
#include "pipeline.h"
#include "pipeline_hmac.h"
#include "romio.h"
#include "station_hmac.h"
#include "store_testutil.h"

#define NVS_OFF 0x9000u
#define NVS_SIZE 0x6000u
#define MAC_A "24:0a:c4:00:aa:01"
#define MAC_B "24:0a:c4:00:aa:02"

static const char table_csv[] = "nvs,data,nvs,0x9000,0x6000,\n"
				"factory,app,factory,0x10000,1M,\n";

enum crash {
	CRASH_NONE = 0,
	CRASH_BEFORE_BURN,   /* key-burning stored, the board gone before any eFuse command */
	CRASH_HALF_BURN,     /* ... and the key block programmed, BLOCK0 not */
	CRASH_BEFORE_BURNT,  /* burn done, key-burnt never stored */
	CRASH_BEFORE_WRITE,  /* key-burnt stored, the record never marked sent */
	CRASH_BEFORE_RESULT, /* written and verified, the result never stored */
};

struct fx {
	char *dir, *db;
	struct store *s;
	uint8_t seal[STORE_SEAL_KEY_LEN];
	uint8_t table[PART_TABLE_MAX_LEN];
	int64_t product_id;
	enum crash crash;
	int crashed;
	int claims;
	struct simdev *dev; /* the board of this pass */
};

static void fx_open(struct fx *f)
{
	struct store_err err = {0};

	if (store_open(&f->s, f->db, STORE_OPEN_CREATE, f->seal, &err))
		fail_msg("store_open: %s", err.msg);
}

/* A product "lamp" with the real table, hmac on BLOCK_KEY1, and 4 records. */
static struct fx *fx_new(int seal)
{
	struct fx *f = calloc(1, sizeof(*f));
	struct part_table *t = NULL;
	struct part_opts o;
	struct part_err perr;
	struct store_err err = {0};
	struct store_product *p = NULL;
	char *csv = tu_values(1, 4);

	for (size_t i = 0; i < sizeof(f->seal); i++)
		f->seal[i] = (uint8_t)(i * 31 + 7);
	part_opts_init(&o);
	assert_int_equal(part_csv_parse((const uint8_t *)table_csv, strlen(table_csv), &o, &t, &perr), 0);
	assert_int_equal(part_bin_write(t, &o, f->table, &perr), 0);
	part_table_free(t);
	f->dir = tu_tmpdir();
	f->db = tu_path(f->dir, "t.db");
	fx_open(f);
	struct store_product_spec spec = {
		.name = "lamp", .config_csv = tu_config, .config_len = strlen(tu_config), .config_source = "config.csv",
		.part_table = f->table, .part_table_len = sizeof(f->table), .part_label = "nvs",
		.part_offset = NVS_OFF, .part_size = NVS_SIZE, .nvs_version = 2,
	};
	struct store_hmac_product hp = {.key_block = 1, .protect = EFUSE_PROTECT_READ | EFUSE_PROTECT_WRITE,
					.seal = seal};
	if (store_product_add(f->s, &spec, &err) || store_hmac_product_set(f->s, "lamp", &hp, &err) ||
	    tu_import(f->s, "lamp", csv, &err) || store_product_get(f->s, "lamp", &p, &err))
		fail_msg("setup: %s", err.msg);
	f->product_id = p->id;
	store_product_free(p);
	free(csv);
	return f;
}

static void fx_free(struct fx *f)
{
	store_close(f->s);
	tu_rmrf(f->dir);
	free(f->db);
	free(f);
}

/* The daemon dies and comes back: what it had not stored is gone. */
static void restart(struct fx *f)
{
	struct store_recovery rep;
	struct store_err err = {0};

	store_close(f->s);
	f->s = NULL;
	fx_open(f);
	if (store_recover(f->s, NULL, &rep, &err))
		fail_msg("recover: %s", err.msg);
}

static struct simdev *board(enum simdev_chip chip, const char *mac)
{
	struct simdev_config cfg;
	struct simdev_err serr;
	struct simdev *d;
	size_t size;
	struct fx tmp;
	struct part_table *t = NULL;
	struct part_opts o;
	struct part_err perr;

	simdev_config_default(&cfg);
	cfg.chip = chip;
	simdev_mac_parse(mac, cfg.mac);
	assert_int_equal(simdev_new(&cfg, &d, &serr), 0);
	part_opts_init(&o);
	assert_int_equal(part_csv_parse((const uint8_t *)table_csv, strlen(table_csv), &o, &t, &perr), 0);
	assert_int_equal(part_bin_write(t, &o, tmp.table, &perr), 0);
	part_table_free(t);
	memcpy(simdev_flash(d, &size) + 0x8000, tmp.table, sizeof(tmp.table));
	return d;
}

static void emit(void *ctx, struct jobq_msg *m)
{
	(void)ctx;
	jobq_msg_clear(m);
}

static void ctx_of(struct fx *f, const struct jobq_msg *m, const char *record, struct station_hmac_ctx *c)
{
	memset(c, 0, sizeof(*c));
	c->station = "st1";
	c->port = "p0";
	c->chip = m->chip;
	c->mac = m->mac;
	c->product = "lamp";
	c->record_id = record;
	c->product_id = f->product_id;
	c->batch_id = m->batch_id;
	c->job_id = m->job_id;
}

static int claim(struct fx *f, struct jobq_msg *req, struct jobq_msg *rep)
{
	struct store_claim_req cr = {.product = "lamp", .station = "st1", .port = "p0", .mac = req->mac,
				     .chip = req->chip};
	struct store_record *r = NULL;
	struct store_err err = {0};
	struct station_hmac_ctx c;
	uint8_t key[32], xts[NVS_XTS_KEY_LEN];
	uint32_t hmac = 0;
	int rc = -1;

	f->claims++;
	if (store_claim(f->s, &cr, &r, &err)) {
		snprintf(rep->text, sizeof(rep->text), "%s", err.msg);
		return 0;
	}
	rep->job_id = r->job_id;
	snprintf(rep->record, sizeof(rep->record), "%s", r->record_id);
	ctx_of(f, req, r->record_id, &c);
	c.job_id = r->job_id;
	rep->data = malloc(NVS_SIZE);
	if (station_hmac_prepare(f->s, &c, &hmac, key, xts, rep->text, sizeof(rep->text)) ||
	    store_record_image(r, hmac ? xts : NULL, rep->data, NVS_SIZE, &rep->len, &err) ||
	    station_hmac_append(rep, hmac, key, rep->text, sizeof(rep->text))) {
		if (!rep->text[0])
			snprintf(rep->text, sizeof(rep->text), "%s", err.msg);
		store_release(f->s, r->job_id, rep->text, NULL, &err);
		rep->job_id = 0;
		goto out;
	}
	rc = 0;
out:
	rep->rc = rc;
	store_record_free(r);
	return 0;
}

static int ask(void *ctx, struct jobq_msg *req, enum jobq_kind want, struct jobq_msg *rep, int timeout_ms)
{
	struct fx *f = ctx;
	struct store_err err = {0};
	struct station_hmac_ctx c;

	(void)timeout_ms;
	memset(rep, 0, sizeof(*rep));
	rep->kind = want;
	if (f->crashed)
		goto gone;
	if (req->kind == JOBQ_CLAIM_REQ) {
		claim(f, req, rep);
		/* the main thread stored key-burning and replied; then it died
		 * and the board lost its link before any eFuse command */
		if (!rep->rc && (f->crash == CRASH_BEFORE_BURN || f->crash == CRASH_HALF_BURN)) {
			f->crashed = 1;
			simdev_set_drop_after(f->dev, 0);
		}
	} else if (req->kind == JOBQ_HMAC_REQ) {
		if (f->crash == CRASH_BEFORE_BURNT && req->a == STORE_HMAC_BURNT)
			goto gone;
		ctx_of(f, req, req->record, &c);
		station_hmac_on_req(f->s, &c, req, rep);
	} else if (req->kind == JOBQ_SENT_REQ) {
		if (f->crash == CRASH_BEFORE_WRITE)
			goto gone;
		rep->rc = store_mark_sent(f->s, req->job_id, &err) ? -1 : 0;
	} else {
		fail_msg("unexpected request %d", req->kind);
	}
	jobq_msg_clear(req);
	return 0;
gone:
	f->crashed = 1;
	jobq_msg_clear(req);
	return -1;
}

/* One pass of the board through the pipeline; the result stored as the
 * station does (unless the main thread is gone). Returns the pipeline's rc. */
static int pass(struct fx *f, struct simdev *d, struct jobq_msg *res)
{
	struct port *p = NULL;
	struct romio *rio = NULL;
	struct romio_ident id;
	struct jobq_msg w;
	struct store_err err = {0};
	struct pipeline_io io = {.ctx = f, .emit = emit, .ask = ask};
	struct pipeline_params pp = {.worker = 0, .before = CONFIG_BEFORE_DEFAULT_RESET, .table_offset = 0x8000,
				     .timeout_ms = 1000};
	char msg[256];
	int rc;

	f->dev = d;
	f->crashed = 0;
	simdev_set_drop_after(d, -1);
	assert_int_equal(romio_new("fake", &rio), 0);
	assert_int_equal(simdev_fakeport_new(d, "fake", 115200, &p), 0);
	assert_int_equal(romio_connect_port(rio, p, CONFIG_BEFORE_DEFAULT_RESET, 921600, &id, msg, sizeof(msg)), 0);
	memset(&w, 0, sizeof(w));
	w.kind = JOBQ_WORK_REP;
	w.data = malloc(PART_TABLE_MAX_LEN);
	memcpy(w.data, f->table, PART_TABLE_MAX_LEN);
	w.len = PART_TABLE_MAX_LEN;
	w.a = NVS_OFF;
	w.b = NVS_SIZE;
	snprintf(w.label, sizeof(w.label), "nvs");
	w.hmac = station_hmac_work(f->s, f->product_id);
	assert_int_not_equal(w.hmac, 0);
	rc = pipeline_provision(rio, &id, &w, &pp, &io, res);
	jobq_msg_clear(&w);
	romio_free(rio);
	if (f->crash == CRASH_BEFORE_RESULT && rc == 0)
		f->crashed = 1;
	if (!f->crashed) {
		struct station_hmac_ctx c;
		ctx_of(f, res, res->record, &c);
		if (rc == 0) {
			assert_int_equal(store_mark_verified(f->s, res->job_id, NULL, &err), 0);
			assert_int_equal(station_hmac_done(f->s, &c, res->hmac, &err), 0);
		} else if (res->sent) {
			store_fail(f->s, res->job_id, res->text, NULL, &err);
		} else if (res->job_id) {
			store_release(f->s, res->job_id, res->text, NULL, &err);
		}
	}
	return rc;
}

static enum store_hmac_state state_of(struct fx *f, const char *mac)
{
	struct store_hmac_device dv;
	struct store_err err = {0};

	enum store_hmac_state st;

	assert_int_equal(store_hmac_device_get(f->s, mac, 1, &dv, &err), 0);
	st = dv.state;
	OPENSSL_cleanse(&dv, sizeof(dv));
	return st;
}

/* The key the chip holds in BLOCK_KEY1 (the simulator keeps hidden fuses). */
static void chip_key(struct simdev *d, uint8_t key[32])
{
	for (unsigned i = 0; i < 8; i++) {
		uint32_t v = simdev_efuse_get(d, 5, i);
		key[4 * i] = (uint8_t)v;
		key[4 * i + 1] = (uint8_t)(v >> 8);
		key[4 * i + 2] = (uint8_t)(v >> 16);
		key[4 * i + 3] = (uint8_t)(v >> 24);
	}
}

static int has_value(const struct nvs_decode *dec, const char *want)
{
	size_t n = strlen(want);

	for (size_t v = 0; v < dec->value_count; v++)
		if (dec->values[v].data && dec->values[v].len >= n && !memcmp(dec->values[v].data, want, n))
			return 1;
	return 0;
}

/* The board's NVS decodes cleanly with the XTS keys derived from its own
 * eFuse key, to the record bound to its MAC; and not with other keys. */
static void assert_decodes(struct fx *f, struct simdev *d, const char *mac, const uint8_t *other_key)
{
	uint8_t key[32], xts[NVS_XTS_KEY_LEN];
	struct nvs_decode *dec = NULL;
	struct nvs_err nerr;
	size_t size;
	const uint8_t *flash = simdev_flash(d, &size);
	json_t *recs = NULL;
	struct store_err err = {0};
	struct store_record_filter flt = {.product = "lamp", .reveal = 1};
	const char *want = NULL;
	size_t i;
	json_t *r;

	assert_int_equal(store_query_records(f->s, &flt, &recs, &err), 0);
	json_array_foreach(json_object_get(recs, "records"), i, r)
		if (json_string_value(json_object_get(r, "mac")) && !strcmp(json_string_value(json_object_get(r, "mac")), mac))
			want = json_string_value(json_object_get(json_object_get(r, "values"), "DeviceSecret"));
	assert_non_null(want);
	chip_key(d, key);
	assert_int_equal(nvs_key_from_hmac(key, 32, xts, &nerr), 0);
	assert_int_equal(nvs_decode_image(flash + NVS_OFF, NVS_SIZE, xts, &dec, &nerr), 0);
	assert_int_equal(dec->problem_count, 0);
	assert_true(has_value(dec, want));
	nvs_decode_free(dec);
	dec = NULL;
	if (other_key) {
		assert_int_equal(nvs_key_from_hmac(other_key, 32, xts, &nerr), 0);
		if (nvs_decode_image(flash + NVS_OFF, NVS_SIZE, xts, &dec, &nerr) == 0) {
			assert_false(has_value(dec, want));
			nvs_decode_free(dec);
		}
	}
	json_decref(recs);
}

/* Records bound to a MAC: each to one MAC only (store_check), and count. */
static int bound_to(struct fx *f, const char *mac)
{
	json_t *recs = NULL;
	struct store_err err = {0};
	struct store_record_filter flt = {.product = "lamp"};
	size_t i;
	json_t *r;
	int n = 0;

	assert_int_equal(store_check(f->s, &err), 0);
	assert_int_equal(store_query_records(f->s, &flt, &recs, &err), 0);
	json_array_foreach(json_object_get(recs, "records"), i, r)
		if (json_string_value(json_object_get(r, "mac")) && !strcmp(json_string_value(json_object_get(r, "mac")), mac))
			n++;
	json_decref(recs);
	return n;
}

static void half_burn(struct fx *f, struct simdev *d)
{
	struct store_hmac_device dv;
	struct store_err err = {0};
	uint8_t chk[12];

	assert_int_equal(store_hmac_device_get(f->s, MAC_A, 1, &dv, &err), 0);
	if (!dv.has_key) /* unsealed: some key the station no longer knows */
		for (int i = 0; i < 32; i++)
			dv.key[i] = (uint8_t)(i + 1);
	efuse_rs_encode(dv.key, chk);
	for (unsigned i = 0; i < 8; i++)
		simdev_efuse_set(d, 5, i, (uint32_t)dv.key[4 * i] | (uint32_t)dv.key[4 * i + 1] << 8 |
						  (uint32_t)dv.key[4 * i + 2] << 16 | (uint32_t)dv.key[4 * i + 3] << 24);
	for (unsigned i = 0; i < 3; i++)
		simdev_efuse_set(d, 5, 8 + i, (uint32_t)chk[4 * i] | (uint32_t)chk[4 * i + 1] << 8 |
						      (uint32_t)chk[4 * i + 2] << 16 | (uint32_t)chk[4 * i + 3] << 24);
	OPENSSL_cleanse(&dv, sizeof(dv));
}

static void crash_case(enum crash at, int seal)
{
	struct fx *f = fx_new(seal);
	struct simdev *a = board(SIMDEV_CHIP_ESP32C3, MAC_A), *b;
	struct jobq_msg res;
	uint8_t ka[32];
	/* the pass that crashes */
	f->crash = at;
	(void)pass(f, a, &res);
	assert_true(f->crashed);
	jobq_msg_clear(&res);
	unsigned burns = simdev_efuse_programs(a);
	if (at == CRASH_HALF_BURN)
		half_burn(f, a);
	restart(f);
	/* the board comes back */
	f->crash = CRASH_NONE;
	int rc = pass(f, a, &res);
	int burnt_before = at >= CRASH_BEFORE_BURNT || at == CRASH_HALF_BURN;
	if (seal || !burnt_before) {
		if (rc)
			fail_msg("crash %d seal %d: second pass: %s", at, seal, res.text);
		assert_int_equal(state_of(f, MAC_A), STORE_HMAC_DONE);
		/* one key block burn and one BLOCK0 burn over both passes */
		assert_int_equal(simdev_efuse_programs(a) + (at == CRASH_HALF_BURN ? 1u : 0u), 2u);
		assert_int_equal(bound_to(f, MAC_A), 1);
	} else {
		assert_int_not_equal(rc, 0);
		assert_non_null(strstr(res.text, "rework"));
		assert_int_equal(state_of(f, MAC_A), STORE_HMAC_REWORK);
		assert_int_equal(simdev_efuse_programs(a), burns); /* nothing burnt again */
		/* bound only if its bytes were written (crash after the write) */
		assert_int_equal(bound_to(f, MAC_A), at == CRASH_BEFORE_RESULT ? 1 : 0);
		/* and it stays set aside: refused at claim time */
		jobq_msg_clear(&res);
		assert_int_not_equal(pass(f, a, &res), 0);
		assert_non_null(strstr(res.text, "rework"));
		assert_int_equal(simdev_efuse_programs(a), burns);
	}
	jobq_msg_clear(&res);
	/* another board: its own record and key, the first board's record never */
	b = board(SIMDEV_CHIP_ESP32C6, MAC_B);
	if (pass(f, b, &res))
		fail_msg("second board: %s", res.text);
	jobq_msg_clear(&res);
	assert_int_equal(bound_to(f, MAC_B), 1);
	chip_key(a, ka);
	assert_decodes(f, b, MAC_B, ka);
	if (seal || !burnt_before) {
		uint8_t kb[32];
		chip_key(b, kb);
		assert_decodes(f, a, MAC_A, kb);
	}
	simdev_free(b);
	simdev_free(a);
	fx_free(f);
}

static void test_pipeline_hmac_batch(void **state)
{
	static const enum simdev_chip chips[] = {SIMDEV_CHIP_ESP32C3, SIMDEV_CHIP_ESP32C6, SIMDEV_CHIP_ESP32H2,
						 SIMDEV_CHIP_ESP32S3};
	static const char *const macs[] = {"24:0a:c4:00:bb:01", "24:0a:c4:00:bb:02", "24:0a:c4:00:bb:03",
					   "24:0a:c4:00:bb:04"};
	struct fx *f = fx_new(0);
	struct simdev *d[4];
	struct jobq_msg res;
	uint8_t k[4][32];

	(void)state;
	for (int i = 0; i < 4; i++) {
		d[i] = board(chips[i], macs[i]);
		if (pass(f, d[i], &res))
			fail_msg("%s: %s", macs[i], res.text);
		assert_int_equal(res.hmac & PIPELINE_HMAC_ON, PIPELINE_HMAC_ON);
		jobq_msg_clear(&res);
		assert_int_equal(state_of(f, macs[i]), STORE_HMAC_DONE);
		assert_int_equal(simdev_efuse_programs(d[i]), 2);
		chip_key(d[i], k[i]);
	}
	for (int i = 0; i < 4; i++)
		assert_decodes(f, d[i], macs[i], k[(i + 1) % 4]);
	/* a finished board back on the port (another batch): its key is not
	 * kept, so it is left alone, still done, not rework */
	assert_int_not_equal(pass(f, d[0], &res), 0);
	assert_non_null(strstr(res.text, "already provisioned"));
	jobq_msg_clear(&res);
	assert_int_equal(state_of(f, macs[0]), STORE_HMAC_DONE);
	assert_int_equal(simdev_efuse_programs(d[0]), 2);
	assert_int_equal(bound_to(f, macs[0]), 1);
	for (int i = 0; i < 4; i++)
		simdev_free(d[i]);
	fx_free(f);
}

/* With sealed keys a finished board is provisioned again, its key not
 * burnt a second time. */
static void test_pipeline_hmac_sealed_again(void **state)
{
	struct fx *f = fx_new(1);
	struct simdev *d = board(SIMDEV_CHIP_ESP32S3, MAC_A);
	struct jobq_msg res;

	(void)state;
	for (int run = 0; run < 2; run++) {
		if (pass(f, d, &res))
			fail_msg("run %d: %s", run, res.text);
		jobq_msg_clear(&res);
		assert_int_equal(state_of(f, MAC_A), STORE_HMAC_DONE);
		assert_int_equal(simdev_efuse_programs(d), 2);
		assert_int_equal(bound_to(f, MAC_A), 1);
		assert_decodes(f, d, MAC_A, NULL);
	}
	simdev_free(d);
	fx_free(f);
}

static void test_pipeline_hmac_crash_before_burn(void **state)
{
	(void)state;
	crash_case(CRASH_BEFORE_BURN, 1);
	crash_case(CRASH_BEFORE_BURN, 0);
}

static void test_pipeline_hmac_crash_half_burn(void **state)
{
	(void)state;
	crash_case(CRASH_HALF_BURN, 1);
	crash_case(CRASH_HALF_BURN, 0);
}

static void test_pipeline_hmac_crash_before_burnt(void **state)
{
	(void)state;
	crash_case(CRASH_BEFORE_BURNT, 1);
	crash_case(CRASH_BEFORE_BURNT, 0);
}

static void test_pipeline_hmac_crash_before_write(void **state)
{
	(void)state;
	crash_case(CRASH_BEFORE_WRITE, 1);
	crash_case(CRASH_BEFORE_WRITE, 0);
}

static void test_pipeline_hmac_crash_before_result(void **state)
{
	(void)state;
	crash_case(CRASH_BEFORE_RESULT, 1);
	crash_case(CRASH_BEFORE_RESULT, 0);
}

/* A refused board: nothing burnt, nothing written, no record lost. */
static void refusal(enum simdev_chip chip, void (*prep)(struct simdev *), int want_claims, const char *needle)
{
	struct fx *f = fx_new(1);
	struct simdev *d = board(chip, MAC_A);
	struct jobq_msg res;
	json_t *st = NULL;
	struct store_err err = {0};
	uint32_t before[11][11];

	if (prep)
		prep(d);
	for (unsigned b = 0; b < 11; b++)
		for (unsigned w = 0; w < 11; w++)
			before[b][w] = simdev_efuse_get(d, b, w);
	assert_int_not_equal(pass(f, d, &res), 0);
	if (!strstr(res.text, needle))
		fail_msg("'%s' lacks '%s'", res.text, needle);
	jobq_msg_clear(&res);
	assert_int_equal(f->claims, want_claims);
	assert_int_equal(simdev_efuse_programs(d), 0);
	for (unsigned b = 0; b < 11; b++)
		for (unsigned w = 0; w < 11; w++)
			assert_int_equal(simdev_efuse_get(d, b, w), before[b][w]);
	assert_int_equal(bound_to(f, MAC_A), 0);
	assert_int_equal(store_query_stats(f->s, "lamp", &st, &err), 0);
	assert_int_equal(json_integer_value(json_object_get(json_array_get(json_object_get(st, "stats"), 0),
							    "available")),
			 4);
	json_decref(st);
	if (want_claims)
		assert_int_equal(state_of(f, MAC_A), STORE_HMAC_REFUSED);
	simdev_free(d);
	fx_free(f);
}

static void prep_wrong_purpose(struct simdev *d)
{
	simdev_efuse_set(d, 0, 2, 4u << 28); /* KEY_PURPOSE_1 = XTS_AES_128_KEY */
}

static void prep_user_data(struct simdev *d)
{
	uint8_t data[32] = {0x34, 0x12}, chk[12];

	efuse_rs_encode(data, chk);
	simdev_efuse_set(d, 5, 0, 0x1234);
	for (unsigned i = 0; i < 3; i++)
		simdev_efuse_set(d, 5, 8 + i, (uint32_t)chk[4 * i] | (uint32_t)chk[4 * i + 1] << 8 |
						      (uint32_t)chk[4 * i + 2] << 16 | (uint32_t)chk[4 * i + 3] << 24);
}

static void prep_purpose_only(struct simdev *d)
{
	simdev_efuse_set(d, 0, 2, 8u << 28); /* HMAC_UP on an empty block */
}

static void test_pipeline_hmac_refusals(void **state)
{
	(void)state;
	refusal(SIMDEV_CHIP_ESP32, NULL, 0, "EFUSE_ENOHMAC");
	refusal(SIMDEV_CHIP_ESP32C2, NULL, 0, "EFUSE_ENOHMAC");
	refusal(SIMDEV_CHIP_ESP32C3, prep_wrong_purpose, 1, "EFUSE_EPURPOSE");
	refusal(SIMDEV_CHIP_ESP32C6, prep_user_data, 1, "EFUSE_ENOTFREE");
	refusal(SIMDEV_CHIP_ESP32H2, prep_purpose_only, 1, "EFUSE_ESTATE");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_pipeline_hmac_batch),
		cmocka_unit_test(test_pipeline_hmac_sealed_again),
		cmocka_unit_test(test_pipeline_hmac_refusals),
		cmocka_unit_test(test_pipeline_hmac_crash_before_burn),
		cmocka_unit_test(test_pipeline_hmac_crash_half_burn),
		cmocka_unit_test(test_pipeline_hmac_crash_before_burnt),
		cmocka_unit_test(test_pipeline_hmac_crash_before_write),
		cmocka_unit_test(test_pipeline_hmac_crash_before_result),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
