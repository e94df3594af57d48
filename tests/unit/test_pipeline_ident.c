/* The esp_secure_cert part of the per-device pipeline (pipeline_ident.c)
 * against the simulator's in-process fake port. The test plays the main
 * thread (claim and mark-sent answers), like test_pipeline.c, with a claim
 * reply that carries an identity: an image to write, or a certificate the
 * device must already hold. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <openssl/x509.h>

#include "espfab/nvs.h"
#include "espfab/part.h"
#include "espfab/seccert.h"
#include "espfab/seccert_pem.h"
#include "espfab/simdev.h"
#include "espfab/simdev_fakeport.h"
#include "pipeline.h"
#include "devsess.h"

#define NVS_OFF 0x9000u
#define NVS_SIZE 0x6000u
#define SC_OFF 0x10000u
#define SC_SIZE 0x2000u
#define DATA ESPFAB_TEST_DATA "/secure_cert/"

static const char table_csv[] = "nvs,data,nvs,0x9000,0x6000,\n"
				"phy_init,data,phy,0xf000,0x1000,\n"
				"esp_secure_cert,0x3F,,0x10000,0x2000,\n"
				"factory,app,factory,0x20000,1M,\n";

struct fixture {
	struct simdev *dev;
	struct devsess *rio;
	uint8_t table[PART_TABLE_MAX_LEN];
	uint8_t nvs[NVS_SIZE];
	size_t nvs_len;
	uint8_t sc[SC_SIZE]; /* ecdsa_p256.bin padded with 0xFF */
	uint8_t *der;        /* its device certificate */
	size_t der_len;
	enum jobq_ident mode;
	const uint8_t *ident; /* what the claim reply carries */
	size_t ident_len;
	int claims, sents;
	int nvs_blank_at_sent, sc_at_sent_unchanged;
	long long drop_after_sent;
	uint8_t sc_before[SC_SIZE];
};

static uint8_t *slurp(const char *name, size_t *len)
{
	char path[512];
	FILE *f;
	uint8_t *buf;
	long n;

	snprintf(path, sizeof(path), "%s%s", DATA, name);
	f = fopen(path, "rb");
	assert_non_null(f);
	fseek(f, 0, SEEK_END);
	n = ftell(f);
	fseek(f, 0, SEEK_SET);
	buf = malloc((size_t)n);
	assert_int_equal(fread(buf, 1, (size_t)n, f), (size_t)n);
	fclose(f);
	*len = (size_t)n;
	return buf;
}

static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));
	struct simdev_config cfg;
	struct simdev_err serr;
	struct part_table *t = NULL;
	struct part_opts o;
	struct part_err perr;
	struct nvs_gen *g = NULL;
	struct nvs_err nerr;
	struct seccert_image *im = NULL;
	struct seccert_err err;
	X509 *x = NULL;
	uint8_t *flash, *bin;
	size_t size, blen;
	unsigned char *der = NULL;
	int n;

	simdev_config_default(&cfg);
	cfg.chip = SIMDEV_CHIP_ESP32S3;
	simdev_mac_parse("24:0a:c4:00:00:01", cfg.mac);
	assert_int_equal(simdev_new(&cfg, &f->dev, &serr), 0);
	part_opts_init(&o);
	assert_int_equal(part_csv_parse((const uint8_t *)table_csv, strlen(table_csv), &o, &t, &perr), 0);
	assert_int_equal(part_bin_write(t, &o, f->table, &perr), 0);
	part_table_free(t);
	flash = simdev_flash(f->dev, &size);
	memcpy(flash + 0x8000, f->table, sizeof(f->table));

	assert_int_equal(nvs_gen_new(&g, NVS_SIZE, NVS_VERSION_2, &nerr), 0);
	assert_int_equal(nvs_gen_add_row(g, "mass_prod", "namespace", "", "", 0, &nerr), 0);
	assert_int_equal(nvs_gen_add_row(g, "HwRev", "data", "u8", "3", 1, &nerr), 0);
	assert_int_equal(nvs_gen_finish(g, NULL, f->nvs, sizeof(f->nvs), &f->nvs_len, &nerr), 0);
	nvs_gen_free(g);

	bin = slurp("ecdsa_p256.bin", &blen);
	memset(f->sc, 0xFF, sizeof(f->sc));
	memcpy(f->sc, bin, blen);
	free(bin);
	assert_int_equal(seccert_parse(f->sc, sizeof(f->sc), &im, &err), 0);
	assert_int_equal(seccert_pem_read_cert(seccert_find(im, SECCERT_DEV_CERT, 0)->data,
					       seccert_find(im, SECCERT_DEV_CERT, 0)->length, &x, &err),
			 0);
	n = i2d_X509(x, &der);
	assert_true(n > 0);
	f->der = malloc((size_t)n);
	memcpy(f->der, der, (size_t)n);
	f->der_len = (size_t)n;
	OPENSSL_free(der);
	X509_free(x);
	seccert_image_free(im);

	f->drop_after_sent = -1;
	assert_int_equal(devsess_new("fake", &f->rio), 0);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;

	devsess_free(f->rio);
	simdev_free(f->dev);
	free(f->der);
	free(f);
	return 0;
}

static void fake_emit(void *ctx, struct jobq_msg *m)
{
	(void)ctx;
	jobq_msg_clear(m);
}

static int fake_ask(void *ctx, struct jobq_msg *req, enum jobq_kind want, struct jobq_msg *rep, int timeout_ms)
{
	struct fixture *f = ctx;
	size_t size;
	uint8_t *flash = simdev_flash(f->dev, &size);

	(void)timeout_ms;
	memset(rep, 0, sizeof(*rep));
	rep->kind = want;
	if (req->kind == JOBQ_CLAIM_REQ) {
		f->claims++;
		rep->job_id = 42;
		snprintf(rep->u.claim.record, sizeof(rep->u.claim.record), "lamp-0001");
		/* As station_ident_prepare() lays it out: NVS image, then the identity. */
		rep->len = f->nvs_len + f->ident_len;
		rep->data = malloc(rep->len);
		memcpy(rep->data, f->nvs, f->nvs_len);
		if (f->ident_len)
			memcpy(rep->data + f->nvs_len, f->ident, f->ident_len);
		rep->u.claim.ident = f->mode;
		rep->u.claim.ident_offset = SC_OFF;
		rep->u.claim.ident_len = (uint32_t)f->ident_len;
	} else if (req->kind == JOBQ_SENT_REQ) {
		f->sents++;
		f->nvs_blank_at_sent = 1;
		for (size_t i = 0; i < NVS_SIZE; i++)
			if (flash[NVS_OFF + i] != 0xFF)
				f->nvs_blank_at_sent = 0;
		f->sc_at_sent_unchanged = !memcmp(flash + SC_OFF, f->sc_before, SC_SIZE);
		if (f->drop_after_sent >= 0)
			simdev_set_drop_after(f->dev, f->drop_after_sent);
	} else {
		fail_msg("unexpected request %d", req->kind);
	}
	jobq_msg_clear(req);
	return 0;
}

static int run(struct fixture *f, struct jobq_msg *res)
{
	struct devsess_ident id;
	struct jobq_msg w;
	struct port *p = NULL;
	struct pipeline_io io = {.ctx = f, .emit = fake_emit, .ask = fake_ask};
	struct pipeline_params pp = {.worker = 0, .before = RESET_MODE_CLASSIC, .table_offset = 0x8000,
				     .timeout_ms = 1000};
	char msg[256];
	size_t size;
	int rc;

	memcpy(f->sc_before, simdev_flash(f->dev, &size) + SC_OFF, SC_SIZE);
	assert_int_equal(simdev_fakeport_new(f->dev, "fake", 115200, &p), 0);
	assert_int_equal(devsess_connect_port(f->rio, p, RESET_MODE_CLASSIC, 921600, &id, msg, sizeof(msg)), 0);
	memset(&w, 0, sizeof(w));
	w.kind = JOBQ_WORK_REP;
	w.batch_id = 7;
	w.data = malloc(PART_TABLE_MAX_LEN);
	memcpy(w.data, f->table, PART_TABLE_MAX_LEN);
	w.len = PART_TABLE_MAX_LEN;
	w.u.work.part_offset = NVS_OFF;
	w.u.work.part_size = NVS_SIZE;
	snprintf(w.u.work.label, sizeof(w.u.work.label), "nvs");
	rc = pipeline_provision(f->rio, &id, &w, &pp, &io, res);
	jobq_msg_clear(&w);
	return rc;
}

static void test_pipeline_ident_writes_partition(void **state)
{
	struct fixture *f = *state;
	struct jobq_msg res;
	size_t size;
	uint8_t *flash = simdev_flash(f->dev, &size);

	/* An older, longer identity on the device: the whole partition is
	 * rewritten, so none of it stays behind the new chain. */
	memset(flash + SC_OFF, 0x5A, SC_SIZE);
	f->mode = JOBQ_IDENT_WRITE;
	f->ident = f->sc;
	f->ident_len = SC_SIZE;
	assert_int_equal(run(f, &res), 0);
	assert_int_equal(res.rc, 0);
	assert_int_equal(res.u.result.ident, JOBQ_IDENT_WRITE);
	assert_true(f->nvs_blank_at_sent);
	assert_true(f->sc_at_sent_unchanged); /* nothing of it before mark-sent either */
	assert_memory_equal(flash + SC_OFF, f->sc, SC_SIZE);
	assert_memory_equal(flash + NVS_OFF, f->nvs, NVS_SIZE);
}

static void test_pipeline_ident_check_holds(void **state)
{
	struct fixture *f = *state;
	struct jobq_msg res;
	size_t size;
	uint8_t *flash = simdev_flash(f->dev, &size);

	memcpy(flash + SC_OFF, f->sc, SC_SIZE); /* provisioned before */
	f->mode = JOBQ_IDENT_CHECK;
	f->ident = f->der;
	f->ident_len = f->der_len;
	assert_int_equal(run(f, &res), 0);
	assert_int_equal(res.u.result.ident, JOBQ_IDENT_CHECK);
	assert_int_equal(f->sents, 1);
	assert_memory_equal(flash + SC_OFF, f->sc, SC_SIZE); /* left as it was */
	assert_memory_equal(flash + NVS_OFF, f->nvs, NVS_SIZE);
}

static void check_refused(struct fixture *f)
{
	struct jobq_msg res;
	size_t size;
	uint8_t *flash = simdev_flash(f->dev, &size);

	f->mode = JOBQ_IDENT_CHECK;
	f->ident = f->der;
	f->ident_len = f->der_len;
	assert_int_not_equal(run(f, &res), 0);
	assert_int_equal(res.u.result.sent, 0);
	assert_int_equal(res.job_id, 42); /* claimed, so the station releases it */
	assert_int_equal(f->sents, 0);
	assert_non_null(strstr(res.error, "the station keeps no copy of its key"));
	for (size_t i = 0; i < NVS_SIZE; i++)
		if (flash[NVS_OFF + i] != 0xFF)
			fail_msg("NVS byte written at 0x%zx", NVS_OFF + i);
	assert_memory_equal(flash + SC_OFF, f->sc_before, SC_SIZE);
}

static void test_pipeline_ident_check_erased_refused(void **state)
{
	check_refused(*state); /* the partition is erased flash */
}

static void test_pipeline_ident_check_other_cert_refused(void **state)
{
	struct fixture *f = *state;
	size_t size, blen;
	uint8_t *bin = slurp("rsa2048.bin", &blen), *flash = simdev_flash(f->dev, &size);

	memcpy(flash + SC_OFF, bin, blen); /* a clean chain, another certificate */
	free(bin);
	check_refused(f);
}

static void test_pipeline_ident_check_damaged_refused(void **state)
{
	struct fixture *f = *state;
	size_t size;
	uint8_t *flash = simdev_flash(f->dev, &size);

	memcpy(flash + SC_OFF, f->sc, SC_SIZE);
	flash[SC_OFF + 1200] ^= 0x01; /* inside the private key TLV: its CRC fails */
	check_refused(f);
}

/* The device stops answering at every request count after mark-sent in
 * turn: each run fails with the record bound (sent), and some runs fail in
 * the identity write itself, after the NVS image went through. */
static void test_pipeline_ident_drop_during_write(void **state)
{
	int in_ident = 0, ok_at = -1;
	(void)state;

	for (long long n = 0; n < 400 && ok_at < 0; n += 3) {
		void *st = NULL;
		struct fixture *f;
		struct jobq_msg res;
		setup(&st);
		f = st;
		f->mode = JOBQ_IDENT_WRITE;
		f->ident = f->sc;
		f->ident_len = SC_SIZE;
		f->drop_after_sent = n;
		if (run(f, &res) == 0) {
			ok_at = (int)n; /* enough requests for everything */
		} else {
			assert_int_equal(res.u.result.sent, 1);
			if (!strncmp(res.error, "identity: ", 10))
				in_ident++;
		}
		teardown(&st);
	}
	print_message("drop after mark-sent: %d runs failed in the identity write, all passed from %d requests\n",
		      in_ident, ok_at);
	assert_true(ok_at > 0);
	assert_true(in_ident > 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_pipeline_ident_writes_partition, setup, teardown),
		cmocka_unit_test_setup_teardown(test_pipeline_ident_check_holds, setup, teardown),
		cmocka_unit_test_setup_teardown(test_pipeline_ident_check_erased_refused, setup, teardown),
		cmocka_unit_test_setup_teardown(test_pipeline_ident_check_other_cert_refused, setup, teardown),
		cmocka_unit_test_setup_teardown(test_pipeline_ident_check_damaged_refused, setup, teardown),
		cmocka_unit_test_setup_teardown(test_pipeline_ident_drop_during_write, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
