/* The eFuse client (efuse.h) against espfab-sim's controller through the
 * in-process fake port: a key burn on every chip with the HMAC peripheral,
 * checked in the simulator's fuses word by word, and every refusal with
 * nothing programmed. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include "espfab/efuse.h"
#include "espfab/flashop.h"
#include "espfab/simdev.h"
#include "espfab/simdev_fakeport.h"

struct rig {
	struct simdev *dev;
	struct flashop *f;
};

static const char *efuse_path;
static uint32_t sec_flags;

static struct rig *rig_new(enum simdev_chip chip)
{
	struct rig *r = calloc(1, sizeof(*r));
	struct simdev_config cfg;
	struct simdev_err err;
	struct flashop_options o;
	struct rom_diag d;
	struct port *p;

	simdev_config_default(&cfg);
	cfg.chip = chip;
	cfg.efuse_file = efuse_path;
	cfg.security_flags = sec_flags;
	assert_int_equal(simdev_new(&cfg, &r->dev, &err), 0);
	assert_int_equal(simdev_fakeport_new(r->dev, NULL, 115200, &p), 0);
	flashop_options_init(&o);
	o.before = RESET_MODE_NONE;
	if (sec_flags)
		o.flash_size = 4u << 20;
	assert_int_equal(flashop_attach(p, &o, &r->f, &d), 0);
	return r;
}

static void rig_free(struct rig *r)
{
	flashop_close(r->f);
	simdev_free(r->dev);
	free(r);
}

static void make_key(uint8_t k[32], uint8_t salt)
{
	for (int i = 0; i < 32; i++)
		k[i] = (uint8_t)(0xA5 ^ (salt + 13 * i));
}

static uint32_t le(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

/* What espefuse burn_key BLOCK_KEY<k> key HMAC_UP leaves, by hand from
 * fields.py / mem_definition.py: data in register order, RS check words,
 * KEY_PURPOSE_k = 8, WR_DIS bits 8+k (purpose) and 23+k (block), RD_DIS
 * bit k. */
static void assert_burnt(struct rig *r, unsigned k, const uint8_t key[32], unsigned protect)
{
	uint8_t chk[12];
	unsigned b = 4 + k;
	uint32_t wr_dis = 1u << (8 + k);
	uint32_t purpose = k < 2 ? simdev_efuse_get(r->dev, 0, 2) >> (24 + 4 * k) & 15u
				 : simdev_efuse_get(r->dev, 0, 3) >> (4 * (k - 2)) & 15u;

	efuse_rs_encode(key, chk);
	for (unsigned i = 0; i < 8; i++)
		assert_int_equal(simdev_efuse_get(r->dev, b, i), le(key + 4 * i));
	for (unsigned i = 0; i < 3; i++)
		assert_int_equal(simdev_efuse_get(r->dev, b, 8 + i), le(chk + 4 * i));
	if (protect & EFUSE_PROTECT_WRITE)
		wr_dis |= 1u << (23 + k);
	assert_int_equal(simdev_efuse_get(r->dev, 0, 0), wr_dis);
	assert_int_equal(simdev_efuse_get(r->dev, 0, 1), (protect & EFUSE_PROTECT_READ) ? 1u << k : 0);
	assert_int_equal(purpose, 8);
	/* nothing else in BLOCK0 */
	assert_int_equal(simdev_efuse_get(r->dev, 0, 2) & ~(15u << 24 | 15u << 28), 0);
	assert_int_equal(simdev_efuse_get(r->dev, 0, 3) & ~0xFFFFFFu, 0);
	/* exactly two program commands: the key block, then BLOCK0 */
	assert_int_equal(simdev_efuse_programs(r->dev), 2);
}

static void test_efuse_sim_burn_every_chip(void **state)
{
	static const enum simdev_chip chips[] = { SIMDEV_CHIP_ESP32C3, SIMDEV_CHIP_ESP32C6, SIMDEV_CHIP_ESP32H2,
						  SIMDEV_CHIP_ESP32S3 };
	struct efuse_err err;
	struct efuse_summary s;
	uint8_t key[32];

	(void)state;
	for (size_t i = 0; i < sizeof(chips) / sizeof(chips[0]); i++) {
		for (unsigned k = 0; k < 6; k += 5 - (unsigned)i) {
			struct rig *r = rig_new(chips[i]);
			make_key(key, (uint8_t)(i * 6 + k));
			assert_int_equal(efuse_read_summary(r->f, &s, &err), 0);
			assert_true(s.key[k].empty);
			assert_int_equal(s.key[k].purpose, EFUSE_PURPOSE_USER);
			int e = efuse_burn_key(r->f, k, EFUSE_PURPOSE_HMAC_UP, key,
					       EFUSE_PROTECT_READ | EFUSE_PROTECT_WRITE, &err);
			if (e)
				fail_msg("%s BLOCK_KEY%u: %s", simdev_chip_name(chips[i]), k, err.msg);
			assert_burnt(r, k, key, EFUSE_PROTECT_READ | EFUSE_PROTECT_WRITE);
			assert_int_equal(efuse_read_summary(r->f, &s, &err), 0);
			assert_int_equal(s.key[k].purpose, EFUSE_PURPOSE_HMAC_UP);
			assert_true(s.key[k].read_protected);
			assert_true(s.key[k].write_protected);
			assert_true(s.key[k].purpose_write_protected);
			assert_false(s.key[k].empty);
			assert_int_equal(s.key[k].rs_errors + (unsigned)s.key[k].rs_fail, 0);
			/* the chip hides the key now */
			uint32_t v = 1;
			assert_int_equal(flashop_read_reg(r->f, efuse_layout_for(simdev_chip_name(chips[i]))->base +
								       efuse_block_rd_offset(4 + k),
							  &v),
					 0);
			assert_int_equal(v, 0);
			rig_free(r);
		}
	}
}

static void test_efuse_sim_burn_readable_key(void **state)
{
	struct efuse_err err;
	struct efuse_summary s;
	uint8_t key[32];
	struct rig *r = rig_new(SIMDEV_CHIP_ESP32C6);

	(void)state;
	make_key(key, 99);
	assert_int_equal(efuse_burn_key(r->f, 2, EFUSE_PURPOSE_HMAC_UP, key, 0, &err), 0);
	assert_burnt(r, 2, key, 0);
	assert_int_equal(efuse_read_summary(r->f, &s, &err), 0);
	assert_false(s.key[2].read_protected);
	assert_false(s.key[2].write_protected);
	assert_false(s.key[2].empty);
	/* a second burn is refused: the block carries a key of this purpose */
	assert_int_equal(efuse_burn_key(r->f, 2, EFUSE_PURPOSE_HMAC_UP, key, 0, &err), EFUSE_EKEYPRESENT);
	assert_string_equal(efuse_error_name(err.code), "EFUSE_EKEYPRESENT");
	assert_non_null(strstr(err.msg, "already carries a HMAC_UP key"));
	assert_int_equal(simdev_efuse_programs(r->dev), 2);
	rig_free(r);
}

/* A refusal programs nothing and says why in one line, never the key. */
static void refused(enum simdev_chip chip, void (*prep)(struct simdev *), unsigned k, unsigned protect, int want,
		    const char *needle)
{
	struct efuse_err err = { 0 };
	uint8_t key[32];
	uint32_t before[11][11];
	struct rig *r = rig_new(chip);

	if (prep)
		prep(r->dev);
	for (unsigned b = 0; b < 11; b++)
		for (unsigned w = 0; w < 11; w++)
			before[b][w] = simdev_efuse_get(r->dev, b, w);
	make_key(key, 1);
	int got = efuse_burn_key(r->f, k, EFUSE_PURPOSE_HMAC_UP, key, protect, &err);
	if (got != want)
		fail_msg("%s: got %d (%s), want %d", needle, got, err.msg, want);
	assert_int_equal(err.code, want);
	if (!strstr(err.msg, needle))
		fail_msg("message '%s' lacks '%s'", err.msg, needle);
	assert_null(strchr(err.msg, '\n'));
	assert_int_equal(simdev_efuse_programs(r->dev), 0);
	for (unsigned b = 0; b < 11; b++)
		for (unsigned w = 0; w < 11; w++)
			assert_int_equal(simdev_efuse_get(r->dev, b, w), before[b][w]);
	rig_free(r);
}

/* data with a valid RS code, as a USER-purpose burn leaves it */
static void prep_data(struct simdev *d)
{
	uint8_t data[32] = { 0 }, chk[12];

	data[12] = 0x10;
	efuse_rs_encode(data, chk);
	simdev_efuse_set(d, 4 + 1, 3, 0x10);
	for (unsigned i = 0; i < 3; i++)
		simdev_efuse_set(d, 4 + 1, 8 + i, le(chk + 4 * i));
}
static void prep_purpose(struct simdev *d)
{
	simdev_efuse_set(d, 0, 2, 4u << 28); /* KEY_PURPOSE_1 = XTS_AES_128_KEY */
}
static void prep_wr_block(struct simdev *d)
{
	simdev_efuse_set(d, 0, 0, 1u << (23 + 1));
}
static void prep_present(struct simdev *d)
{
	simdev_efuse_set(d, 0, 2, 8u << 28);
	simdev_efuse_set(d, 0, 1, 1u << 1);
	simdev_efuse_set(d, 5, 0, 0x12345678u);
}
static void prep_purpose_only(struct simdev *d)
{
	simdev_efuse_set(d, 0, 2, 8u << 28);
}
static void prep_rs(struct simdev *d)
{
	simdev_efuse_set(d, 5, 9, 0x1);
}
static void prep_purpose_locked(struct simdev *d)
{
	simdev_efuse_set(d, 0, 0, 1u << (8 + 1));
}
static void prep_rd_dis_locked(struct simdev *d)
{
	simdev_efuse_set(d, 0, 0, 1u << 0);
}
static void prep_rd_only(struct simdev *d)
{
	simdev_efuse_set(d, 0, 1, 1u << 1);
}

static void test_efuse_sim_refusals(void **state)
{
	(void)state;
	refused(SIMDEV_CHIP_ESP32, NULL, 1, 3, EFUSE_ENOHMAC, "ESP32 has no HMAC peripheral");
	refused(SIMDEV_CHIP_ESP32C2, NULL, 1, 3, EFUSE_ENOHMAC, "ESP32-C2 has no HMAC peripheral");
	refused(SIMDEV_CHIP_ESP32S2, NULL, 1, 3, EFUSE_ENOHMAC, "no eFuse model");
	refused(SIMDEV_CHIP_ESP32C3, prep_data, 1, 3, EFUSE_ENOTFREE, "already holds data");
	refused(SIMDEV_CHIP_ESP32C6, prep_purpose, 1, 3, EFUSE_EPURPOSE, "purpose XTS_AES_128_KEY, not HMAC_UP");
	refused(SIMDEV_CHIP_ESP32H2, prep_wr_block, 1, 3, EFUSE_ENOTFREE, "write-protected");
	refused(SIMDEV_CHIP_ESP32S3, prep_present, 1, 3, EFUSE_EKEYPRESENT, "already carries a read-protected HMAC_UP");
	refused(SIMDEV_CHIP_ESP32C3, prep_purpose_only, 1, 3, EFUSE_ESTATE, "empty but its purpose is already");
	refused(SIMDEV_CHIP_ESP32C6, prep_rs, 1, 3, EFUSE_ESTATE, "RS error");
	refused(SIMDEV_CHIP_ESP32C3, prep_rs, 1, 3, EFUSE_ESTATE, "coding failure");
	refused(SIMDEV_CHIP_ESP32H2, prep_purpose_locked, 1, 3, EFUSE_ESTATE, "KEY_PURPOSE_1 is write-protected");
	refused(SIMDEV_CHIP_ESP32S3, prep_rd_dis_locked, 1, 3, EFUSE_ESTATE, "RD_DIS is write-protected");
	refused(SIMDEV_CHIP_ESP32S3, prep_rd_only, 1, 3, EFUSE_ENOTFREE, "read-protected with purpose USER");
	/* other blocks stay usable */
	refused(SIMDEV_CHIP_ESP32C3, prep_data, 6, 3, ROM_EINVAL, "BLOCK_KEY6");
}

static void test_efuse_sim_rd_dis_locked_without_read_protect(void **state)
{
	struct efuse_err err;
	uint8_t key[32];
	struct rig *r = rig_new(SIMDEV_CHIP_ESP32S3);

	(void)state;
	prep_rd_dis_locked(r->dev);
	make_key(key, 5);
	assert_int_equal(efuse_burn_key(r->f, 0, EFUSE_PURPOSE_HMAC_UP, key, EFUSE_PROTECT_WRITE, &err), 0);
	assert_int_equal(simdev_efuse_programs(r->dev), 2);
	rig_free(r);
}

static void test_efuse_sim_persisted_key_not_burnt_twice(void **state)
{
	char path[] = "/tmp/test_efuse_sim.XXXXXX";
	struct efuse_err err;
	uint8_t key[32];
	int fd = mkstemp(path);
	struct rig *r;

	(void)state;
	assert_true(fd >= 0);
	close(fd);
	unlink(path);
	efuse_path = path;
	r = rig_new(SIMDEV_CHIP_ESP32C3);
	make_key(key, 7);
	assert_int_equal(efuse_burn_key(r->f, 3, EFUSE_PURPOSE_HMAC_UP, key, 3, &err), 0);
	rig_free(r);
	/* a new power-up of the same chip */
	r = rig_new(SIMDEV_CHIP_ESP32C3);
	assert_int_equal(efuse_burn_key(r->f, 3, EFUSE_PURPOSE_HMAC_UP, key, 3, &err), EFUSE_EKEYPRESENT);
	assert_int_equal(simdev_efuse_programs(r->dev), 0);
	assert_int_equal(simdev_efuse_get(r->dev, 7, 0), le(key));
	rig_free(r);
	efuse_path = NULL;
	unlink(path);
}

/* A crash between efuse_burn_key's two program commands: the key block
 * holds key with its RS code, BLOCK0 nothing. */
static void half_burn(struct simdev *d, unsigned k, const uint8_t key[32])
{
	uint8_t chk[12];

	efuse_rs_encode(key, chk);
	for (unsigned i = 0; i < 8; i++)
		simdev_efuse_set(d, 4 + k, i, le(key + 4 * i));
	for (unsigned i = 0; i < 3; i++)
		simdev_efuse_set(d, 4 + k, 8 + i, le(chk + 4 * i));
}

static void test_efuse_sim_finish_half_burn(void **state)
{
	static const enum simdev_chip chips[] = { SIMDEV_CHIP_ESP32C3, SIMDEV_CHIP_ESP32C6, SIMDEV_CHIP_ESP32H2,
						  SIMDEV_CHIP_ESP32S3 };
	struct efuse_err err = { 0 };
	struct efuse_summary s;
	uint8_t key[32], other[32];

	(void)state;
	for (size_t i = 0; i < sizeof(chips) / sizeof(chips[0]); i++) {
		unsigned k = (unsigned)(i + 1) % 6;
		struct rig *r = rig_new(chips[i]);
		make_key(key, (uint8_t)(40 + i));
		make_key(other, (uint8_t)(80 + i));
		half_burn(r->dev, k, key);
		/* a fresh burn refuses the block: it holds data */
		assert_int_equal(efuse_burn_key(r->f, k, EFUSE_PURPOSE_HMAC_UP, key, 3, &err), EFUSE_ENOTFREE);
		/* another key than the block's: nothing programmed */
		assert_int_equal(efuse_finish_key(r->f, k, EFUSE_PURPOSE_HMAC_UP, other, 3, &err), EFUSE_ESTATE);
		assert_non_null(strstr(err.msg, "another key"));
		assert_int_equal(simdev_efuse_programs(r->dev), 0);
		/* an empty block is not a half burn */
		assert_int_equal(efuse_finish_key(r->f, (k + 1) % 6, EFUSE_PURPOSE_HMAC_UP, key, 3, &err), EFUSE_ESTATE);
		assert_non_null(strstr(err.msg, "not a half-burnt key block"));
		assert_int_equal(simdev_efuse_programs(r->dev), 0);
		/* the right key: BLOCK0 only, one program command */
		if (efuse_finish_key(r->f, k, EFUSE_PURPOSE_HMAC_UP, key, EFUSE_PROTECT_READ | EFUSE_PROTECT_WRITE, &err))
			fail_msg("%s: %s", simdev_chip_name(chips[i]), err.msg);
		assert_int_equal(simdev_efuse_programs(r->dev), 1);
		assert_int_equal(simdev_efuse_get(r->dev, 0, 0), 1u << (8 + k) | 1u << (23 + k));
		assert_int_equal(simdev_efuse_get(r->dev, 0, 1), 1u << k);
		assert_int_equal(efuse_read_summary(r->f, &s, &err), 0);
		assert_int_equal(s.key[k].purpose, EFUSE_PURPOSE_HMAC_UP);
		assert_true(s.key[k].read_protected && s.key[k].write_protected && s.key[k].purpose_write_protected);
		/* finished: a second finish is refused, nothing more programmed */
		assert_int_equal(efuse_finish_key(r->f, k, EFUSE_PURPOSE_HMAC_UP, key, 3, &err), EFUSE_ESTATE);
		assert_int_equal(simdev_efuse_programs(r->dev), 1);
		rig_free(r);
	}
}

static void test_efuse_sim_secure_download(void **state)
{
	struct efuse_err err;
	struct efuse_summary s;
	struct rig *r;

	(void)state;
	sec_flags = SIMDEV_SEC_SECURE_DOWNLOAD;
	r = rig_new(SIMDEV_CHIP_ESP32C3);
	sec_flags = 0;
	assert_int_equal(efuse_read_summary(r->f, &s, &err), ROM_ESECURE);
	assert_non_null(strstr(err.msg, "secure download mode"));
	rig_free(r);
}

static void test_efuse_sim_lost_reply_retried(void **state)
{
	struct efuse_err err;
	uint8_t key[32];
	struct rig *r = rig_new(SIMDEV_CHIP_ESP32H2);

	(void)state;
	make_key(key, 3);
	simdev_inject(r->dev, SIMDEV_CMD_WRITE_REG, 1, 0); /* one lost response */
	simdev_inject(r->dev, SIMDEV_CMD_READ_REG, 1, 0);
	assert_int_equal(efuse_burn_key(r->f, 4, EFUSE_PURPOSE_HMAC_UP, key, 3, &err), 0);
	assert_burnt(r, 4, key, 3);
	rig_free(r);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_efuse_sim_burn_every_chip),
		cmocka_unit_test(test_efuse_sim_burn_readable_key),
		cmocka_unit_test(test_efuse_sim_refusals),
		cmocka_unit_test(test_efuse_sim_rd_dis_locked_without_read_protect),
		cmocka_unit_test(test_efuse_sim_persisted_key_not_burnt_twice),
		cmocka_unit_test(test_efuse_sim_finish_half_burn),
		cmocka_unit_test(test_efuse_sim_secure_download),
		cmocka_unit_test(test_efuse_sim_lost_reply_retried),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
