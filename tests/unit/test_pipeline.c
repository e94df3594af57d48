/* The per-device pipeline against the simulator's in-process fake port (the
 * real ROM client over a virtual ESP32 on virtual time). The test plays the
 * main thread: it answers the claim and mark-sent requests itself. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "espfab/fwimg.h"
#include "espfab/nvs.h"
#include "espfab/nvs_decode.h"
#include "espfab/part.h"
#include "espfab/simdev.h"
#include "espfab/simdev_fakeport.h"
#include "pipeline.h"
#include "devsess.h"

#define NVS_OFF 0x9000u
#define NVS_SIZE 0x6000u

static const char table_csv[] = "nvs,data,nvs,0x9000,0x6000,\n"
				"phy_init,data,phy,0xf000,0x1000,\n"
				"factory,app,factory,0x10000,1M,\n";
static const char table_moved_csv[] = "nvs,data,nvs,0xa000,0x6000,\n"
				      "factory,app,factory,0x10000,1M,\n";

struct fixture {
	struct simdev *dev;
	struct devsess *rio;
	uint8_t table[PART_TABLE_MAX_LEN];
	uint8_t moved[PART_TABLE_MAX_LEN];
	/* what the fake main thread saw */
	int claims, sents;
	int flash_blank_at_sent;
	long long drop_after_sent; /* >= 0: arm drop-after when SENT is acked */
	uint8_t image[NVS_SIZE];
	size_t image_len;
	int events;
	/* firmware images for the product (NULL: none) */
	struct fwimg_set *fw;
	long long drop_after_connect; /* >= 0: arm drop-after right after connecting */
	char steps[256];              /* the step events, comma separated */
	uint64_t fw_done, fw_total;   /* the last progress event of the firmware step */
	uint8_t boot[4096], app[8192];
};

static void make_table(const char *csv, uint8_t *out)
{
	struct part_table *t = NULL;
	struct part_opts o;
	struct part_err err;

	part_opts_init(&o);
	assert_int_equal(part_csv_parse((const uint8_t *)csv, strlen(csv), &o, &t, &err), 0);
	assert_int_equal(part_bin_write(t, &o, out, &err), 0);
	part_table_free(t);
}

static void make_image(struct fixture *f)
{
	struct nvs_gen *g = NULL;
	struct nvs_err err;

	assert_int_equal(nvs_gen_new(&g, NVS_SIZE, NVS_VERSION_2, &err), 0);
	assert_int_equal(nvs_gen_add_row(g, "mass_prod", "namespace", "", "", 0, &err), 0);
	assert_int_equal(nvs_gen_add_row(g, "DeviceSecret", "data", "string", "0123456789abcdef", 16, &err), 0);
	assert_int_equal(nvs_gen_add_row(g, "HwRev", "data", "u8", "3", 1, &err), 0);
	assert_int_equal(nvs_gen_finish(g, NULL, f->image, sizeof(f->image), &f->image_len, &err), 0);
	nvs_gen_free(g);
}

static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));
	struct simdev_config cfg;
	struct simdev_err serr;
	uint8_t *flash;
	size_t size;

	simdev_config_default(&cfg);
	cfg.chip = SIMDEV_CHIP_ESP32S3;
	simdev_mac_parse("24:0a:c4:12:34:56", cfg.mac);
	assert_int_equal(simdev_new(&cfg, &f->dev, &serr), 0);
	make_table(table_csv, f->table);
	make_table(table_moved_csv, f->moved);
	flash = simdev_flash(f->dev, &size);
	memcpy(flash + 0x8000, f->table, sizeof(f->table));
	make_image(f);
	f->drop_after_sent = -1;
	f->drop_after_connect = -1;
	for (size_t i = 0; i < sizeof(f->boot); i++)
		f->boot[i] = (uint8_t)(i * 7 + 1);
	for (size_t i = 0; i < sizeof(f->app); i++)
		f->app[i] = (uint8_t)(i * 13 + 5);
	assert_int_equal(devsess_new("fake", &f->rio), 0);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;

	fwimg_set_unref(f->fw);
	devsess_free(f->rio); /* closes the fake port before its engine goes */
	simdev_free(f->dev);
	free(f);
	return 0;
}

static void fake_emit(void *ctx, struct jobq_msg *m)
{
	struct fixture *f = ctx;

	f->events++;
	if (m->kind == JOBQ_STEP) {
		size_t n = strlen(f->steps);
		snprintf(f->steps + n, sizeof(f->steps) - n, "%s%s", n ? "," : "", m->u.step.name);
	}
	if (m->kind == JOBQ_PROGRESS && strstr(f->steps, "firmware") && !strstr(f->steps, "claim")) {
		f->fw_done = m->u.progress.done;
		f->fw_total = m->u.progress.total;
	}
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
		assert_string_equal(req->mac, "24:0a:c4:12:34:56");
		rep->job_id = 42;
		snprintf(rep->u.claim.record, sizeof(rep->u.claim.record), "lamp-0001");
		rep->data = malloc(f->image_len);
		memcpy(rep->data, f->image, f->image_len);
		rep->len = f->image_len;
	} else if (req->kind == JOBQ_SENT_REQ) {
		f->sents++;
		assert_int_equal(req->job_id, 42);
		/* The store binds the record before the first byte: nothing of the
		 * image may be on the device yet. */
		f->flash_blank_at_sent = 1;
		for (size_t i = 0; i < NVS_SIZE; i++)
			if (flash[NVS_OFF + i] != 0xFF)
				f->flash_blank_at_sent = 0;
		if (f->drop_after_sent >= 0)
			simdev_set_drop_after(f->dev, f->drop_after_sent);
	} else {
		fail_msg("unexpected request %d", req->kind);
	}
	jobq_msg_clear(req);
	return 0;
}

static int connect(struct fixture *f, struct devsess_ident *id)
{
	struct port *p = NULL;
	char msg[256];

	assert_int_equal(simdev_fakeport_new(f->dev, "fake", 115200, &p), 0);
	return devsess_connect_port(f->rio, p, RESET_MODE_CLASSIC, 921600, id, msg, sizeof(msg));
}

static void work_for(struct fixture *f, struct jobq_msg *w, const uint8_t *table, int md5_only)
{
	memset(w, 0, sizeof(*w));
	w->kind = JOBQ_WORK_REP;
	w->batch_id = 7;
	w->data = malloc(PART_TABLE_MAX_LEN);
	memcpy(w->data, table, PART_TABLE_MAX_LEN);
	w->len = PART_TABLE_MAX_LEN;
	w->u.work.part_offset = table == f->moved ? 0xa000 : NVS_OFF;
	w->u.work.part_size = NVS_SIZE;
	w->u.work.md5_only = md5_only;
	snprintf(w->u.work.label, sizeof(w->u.work.label), "nvs");
	w->fw = fwimg_set_ref(f->fw);
}

static int run(struct fixture *f, const uint8_t *table, int md5_only, struct jobq_msg *res)
{
	struct devsess_ident id;
	struct jobq_msg w;
	struct pipeline_io io = {.ctx = f, .emit = fake_emit, .ask = fake_ask};
	struct pipeline_params pp = {.worker = 0, .before = RESET_MODE_CLASSIC, .table_offset = 0x8000,
				     .timeout_ms = 1000};
	int rc;

	assert_int_equal(connect(f, &id), 0);
	assert_string_equal(id.mac, "24:0a:c4:12:34:56");
	assert_string_equal(id.chip, "ESP32-S3");
	if (f->drop_after_connect >= 0)
		simdev_set_drop_after(f->dev, f->drop_after_connect);
	work_for(f, &w, table, md5_only);
	rc = pipeline_provision(f->rio, &id, &w, &pp, &io, res);
	jobq_msg_clear(&w);
	return rc;
}

/* READ_FLASH_SLOW requests (64 bytes each) to reach the end marker. */
static unsigned table_reads(const uint8_t *table)
{
	size_t e = 0;
	while (e + PART_ENTRY_LEN <= PART_TABLE_MAX_LEN && !(table[e] == 0xFF && table[e + 1] == 0xFF))
		e += PART_ENTRY_LEN;
	return (unsigned)((e + PART_ENTRY_LEN + 63) / 64);
}

static void test_pipeline_provisions_and_verifies(void **state)
{
	struct fixture *f = *state;
	struct jobq_msg res;
	size_t size;
	uint8_t *flash;

	assert_int_equal(run(f, f->table, 0, &res), 0);
	assert_int_equal(res.rc, 0);
	assert_int_equal(res.u.result.sent, 1);
	assert_int_equal(res.job_id, 42);
	assert_string_equal(res.u.result.record, "lamp-0001");
	assert_int_equal(strlen(res.u.result.flash_md5), 32);
	assert_int_equal(f->claims, 1);
	assert_int_equal(f->sents, 1);
	assert_true(f->flash_blank_at_sent);
	flash = simdev_flash(f->dev, &size);
	assert_memory_equal(flash + NVS_OFF, f->image, NVS_SIZE);
	/* The table was left alone and the device was sent to its application. */
	assert_memory_equal(flash + 0x8000, f->table, PART_TABLE_MAX_LEN);
	assert_true(simdev_stats(f->dev)->resets >= 2);
	/* Read-back verification read the image's data-bearing bytes (the
	 * table takes its reads of 64 bytes; the record's page some more). */
	assert_true(simdev_stats(f->dev)->by_cmd[SIMDEV_CMD_READ_FLASH_SLOW] >= table_reads(f->table) + 3);
	assert_true(f->events > 0);
}

static void test_pipeline_md5_only_skips_readback(void **state)
{
	struct fixture *f = *state;
	struct jobq_msg res;

	assert_int_equal(run(f, f->table, 1, &res), 0);
	/* Only the partition table up to its end marker was read, 64 bytes a
	 * request, and checked by one MD5 (plus the image's verify). */
	assert_int_equal(simdev_stats(f->dev)->by_cmd[SIMDEV_CMD_READ_FLASH_SLOW], table_reads(f->table));
	assert_int_equal(simdev_stats(f->dev)->by_cmd[SIMDEV_CMD_SPI_FLASH_MD5], 2);
}

static void test_pipeline_table_mismatch_writes_nothing(void **state)
{
	struct fixture *f = *state;
	struct jobq_msg res;
	size_t size;
	uint8_t *flash;

	assert_int_not_equal(run(f, f->moved, 0, &res), 0);
	assert_int_equal(res.u.result.sent, 0);
	assert_int_equal(res.job_id, 0);
	assert_int_equal(f->claims, 0);
	assert_non_null(strstr(res.error, "partition table mismatch: 'nvs' is 0x9000+0x6000 (type 1/2) on the device, "
					 "0xa000+0x6000 in the product"));
	assert_non_null(strstr(res.error, "device table: [nvs 1/2 0x9000+0x6000; phy_init"));
	assert_non_null(strstr(res.error, "product table: [nvs 1/2 0xa000+0x6000; factory"));
	flash = simdev_flash(f->dev, &size);
	for (size_t i = 0; i < 0x10000; i++)
		if (i < 0x8000 || i >= 0x9000)
			assert_int_equal(flash[i], 0xFF);
	assert_int_equal(simdev_stats(f->dev)->by_cmd[SIMDEV_CMD_FLASH_BEGIN] +
				 simdev_stats(f->dev)->by_cmd[SIMDEV_CMD_FLASH_DEFL_BEGIN],
			 0);
}

static void test_pipeline_blank_device_fails_before_claim(void **state)
{
	struct fixture *f = *state;
	struct jobq_msg res;
	size_t size;
	uint8_t *flash = simdev_flash(f->dev, &size);

	memset(flash + 0x8000, 0xFF, 0x1000);
	assert_int_not_equal(run(f, f->table, 0, &res), 0);
	assert_int_equal(f->claims, 0);
	assert_non_null(strstr(res.error, "device partition table at 0x8000 unreadable"));
}

static void test_pipeline_device_drops_mid_write(void **state)
{
	struct fixture *f = *state;
	struct jobq_msg res;

	f->drop_after_sent = 1; /* answer FLASH_DEFL_BEGIN, then go silent */
	assert_int_not_equal(run(f, f->table, 0, &res), 0);
	assert_int_equal(res.u.result.sent, 1); /* the record stays bound to this MAC */
	assert_int_equal(res.job_id, 42);
	assert_non_null(strstr(res.error, "write: "));
}

static void test_pipeline_check_table_pure(void **state)
{
	struct fixture *f = *state;
	char msg[1024];

	assert_int_equal(pipeline_check_table(f->table, sizeof(f->table), 0x8000, f->table, sizeof(f->table), "nvs",
					      NVS_OFF, NVS_SIZE, msg, sizeof(msg)),
			 0);
	assert_int_not_equal(pipeline_check_table(f->table, sizeof(f->table), 0x8000, f->table, sizeof(f->table),
						  "nvs_keys", NVS_OFF, NVS_SIZE, msg, sizeof(msg)),
			     0);
	assert_non_null(strstr(msg, "no 'nvs_keys' partition on the device"));
	assert_int_not_equal(pipeline_check_table(f->table, sizeof(f->table), 0x8000, f->table, sizeof(f->table), "nvs",
						  NVS_OFF, 0x5000, msg, sizeof(msg)),
			     0);
}

/* The product's images: bootloader 4 KiB at 0, the product's table at
 * 0x8000 (with_table), app 8 KiB at 0x10000. */
static void make_fw(struct fixture *f, const char *chip, int with_table)
{
	struct fwimg_err err;
	uint8_t *b = malloc(sizeof(f->boot)), *a = malloc(sizeof(f->app));

	memcpy(b, f->boot, sizeof(f->boot));
	memcpy(a, f->app, sizeof(f->app));
	assert_int_equal(fwimg_set_new(chip, &f->fw, &err), 0);
	assert_int_equal(fwimg_set_add(f->fw, 0x0, "bootloader", "bootloader/bootloader.bin", b, sizeof(f->boot), &err),
			 0);
	assert_int_equal(fwimg_set_add(f->fw, 0x10000, "app", "app.bin", a, sizeof(f->app), &err), 0);
	if (with_table) {
		uint8_t *t = malloc(sizeof(f->table));
		memcpy(t, f->table, sizeof(f->table));
		assert_int_equal(fwimg_set_add(f->fw, 0x8000, "partition-table", "partition-table.bin", t,
					       sizeof(f->table), &err),
				 0);
	}
	assert_int_equal(fwimg_set_check(f->fw, "flasher_args.json", &err), 0);
}

static unsigned flash_begins(struct fixture *f)
{
	return simdev_stats(f->dev)->by_cmd[SIMDEV_CMD_FLASH_BEGIN] +
	       simdev_stats(f->dev)->by_cmd[SIMDEV_CMD_FLASH_DEFL_BEGIN];
}

static void test_pipeline_firmware_on_blank_device(void **state)
{
	struct fixture *f = *state;
	struct jobq_msg res;
	size_t size;
	uint8_t *flash = simdev_flash(f->dev, &size);

	/* A device fresh from the reel: nothing at all in its flash. The
	 * images carry the table, so the old one does not matter. */
	memset(flash, 0xFF, size);
	make_fw(f, "esp32s3", 1);
	assert_int_equal(run(f, f->table, 0, &res), 0);
	assert_int_equal(res.rc, 0);
	assert_int_equal(res.job_id, 42);
	assert_int_equal(f->claims, 1);
	assert_true(f->flash_blank_at_sent);
	assert_memory_equal(flash + 0x0, f->boot, sizeof(f->boot));
	assert_memory_equal(flash + 0x8000, f->table, sizeof(f->table));
	assert_memory_equal(flash + 0x10000, f->app, sizeof(f->app));
	assert_memory_equal(flash + NVS_OFF, f->image, NVS_SIZE);
	/* Firmware first, then the table read back, then the claim. */
	assert_non_null(strstr(f->steps, "firmware,table,claim,write,verify"));
	assert_int_equal(f->fw_total, sizeof(f->boot) + sizeof(f->app) + sizeof(f->table));
	assert_int_equal(f->fw_done, f->fw_total);
	/* Each image checked by the ROM's MD5 (3), and the NVS (1). */
	assert_true(simdev_stats(f->dev)->by_cmd[SIMDEV_CMD_SPI_FLASH_MD5] >= 4);
	assert_int_equal(flash_begins(f), 4);
}

static void test_pipeline_firmware_without_table_checks_table_first(void **state)
{
	struct fixture *f = *state;
	struct jobq_msg res;
	size_t size;
	uint8_t *flash = simdev_flash(f->dev, &size);

	make_fw(f, "ESP32-S3", 0);
	assert_int_equal(run(f, f->table, 0, &res), 0);
	assert_non_null(strstr(f->steps, "table,firmware,claim"));
	assert_memory_equal(flash + 0x0, f->boot, sizeof(f->boot));
	assert_memory_equal(flash + 0x10000, f->app, sizeof(f->app));
	assert_memory_equal(flash + NVS_OFF, f->image, NVS_SIZE);
}

static void test_pipeline_firmware_table_mismatch_writes_nothing(void **state)
{
	struct fixture *f = *state;
	struct jobq_msg res;

	make_fw(f, "esp32s3", 0);
	assert_int_not_equal(run(f, f->moved, 0, &res), 0);
	assert_int_equal(f->claims, 0);
	assert_int_equal(flash_begins(f), 0);
	assert_non_null(strstr(res.error, "partition table mismatch"));
}

static void test_pipeline_firmware_other_chip_refused(void **state)
{
	struct fixture *f = *state;
	struct jobq_msg res;

	make_fw(f, "esp32c3", 1);
	assert_int_not_equal(run(f, f->table, 0, &res), 0);
	assert_int_equal(res.job_id, 0);
	assert_int_equal(f->claims, 0);
	assert_int_equal(flash_begins(f), 0);
	assert_string_equal(res.error, "chip mismatch: the device is an ESP32-S3, the product's firmware is built for "
				      "esp32c3");
}

static void test_pipeline_firmware_write_failure_claims_nothing(void **state)
{
	struct fixture *f = *state;
	struct jobq_msg res;

	make_fw(f, "esp32s3", 1);
	f->drop_after_connect = 1; /* answer the first FLASH_DEFL_BEGIN, then go silent */
	assert_int_not_equal(run(f, f->table, 0, &res), 0);
	assert_int_equal(res.u.result.sent, 0);
	assert_int_equal(res.job_id, 0); /* nothing claimed: nothing to release */
	assert_int_equal(f->claims, 0);
	assert_int_equal(f->sents, 0);
	assert_non_null(strstr(res.error, "firmware bootloader at 0x0: "));
	assert_null(strstr(f->steps, "claim"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_pipeline_provisions_and_verifies, setup, teardown),
		cmocka_unit_test_setup_teardown(test_pipeline_md5_only_skips_readback, setup, teardown),
		cmocka_unit_test_setup_teardown(test_pipeline_table_mismatch_writes_nothing, setup, teardown),
		cmocka_unit_test_setup_teardown(test_pipeline_blank_device_fails_before_claim, setup, teardown),
		cmocka_unit_test_setup_teardown(test_pipeline_device_drops_mid_write, setup, teardown),
		cmocka_unit_test_setup_teardown(test_pipeline_check_table_pure, setup, teardown),
		cmocka_unit_test_setup_teardown(test_pipeline_firmware_on_blank_device, setup, teardown),
		cmocka_unit_test_setup_teardown(test_pipeline_firmware_without_table_checks_table_first, setup, teardown),
		cmocka_unit_test_setup_teardown(test_pipeline_firmware_table_mismatch_writes_nothing, setup, teardown),
		cmocka_unit_test_setup_teardown(test_pipeline_firmware_other_chip_refused, setup, teardown),
		cmocka_unit_test_setup_teardown(test_pipeline_firmware_write_failure_claims_nothing, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
