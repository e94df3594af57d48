/* espfab-sim's eFuse controller model (simdev_efuse.h) driven register by
 * register: op codes, burn-once, READ to see a burn, write and read
 * protection, RS failures, persistence. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include "espfab/le.h"
#include "simdev_efuse.h"

static struct sdefuse E;
static const struct efuse_layout *L;

static void w(uint32_t off, uint32_t v)
{
	assert_int_equal(sdefuse_write(&E, L->base + off, v), 0);
}

static uint32_t r(uint32_t off)
{
	return sdefuse_read(&E, L->base + off);
}

static uint32_t key_rd(unsigned k, unsigned word)
{
	return r(efuse_block_rd_offset(EFUSE_KEY_FIRST_BLOCK + k) + 4 * word);
}

/* The sequence espefuse's efuse_program + efuse_read uses. */
static void program(unsigned block, const uint32_t *words, unsigned n)
{
	for (unsigned i = 0; i < n; i++)
		w(EFUSE_PGM_DATA0 + 4 * i, words[i]);
	w(EFUSE_CONF, EFUSE_WRITE_OP_CODE);
	w(EFUSE_CMD, EFUSE_CMD_PGM | block << 2);
	assert_int_equal(r(EFUSE_CMD), 0);
	for (unsigned i = 0; i < 8; i++)
		w(EFUSE_PGM_DATA0 + 4 * i, 0);
	w(EFUSE_CONF, EFUSE_READ_OP_CODE);
	w(EFUSE_CMD, EFUSE_CMD_READ);
}

static void key_words(uint32_t out[11], uint8_t seed)
{
	uint8_t k[32], c[12];

	for (int i = 0; i < 32; i++)
		k[i] = (uint8_t)(seed + 7 * i);
	efuse_rs_encode(k, c);
	for (int i = 0; i < 8; i++)
		out[i] = le_get32(k + 4 * i);
	for (int i = 0; i < 3; i++)
		out[8 + i] = le_get32(c + 4 * i);
}

static int setup_c6(void **state)
{
	(void)state;
	L = efuse_layout_for("ESP32-C6");
	sdefuse_init(&E, L);
	return 0;
}

static int setup_c3(void **state)
{
	(void)state;
	L = efuse_layout_for("ESP32-C3");
	sdefuse_init(&E, L);
	return 0;
}

static void test_simdev_efuse_owns_range(void **state)
{
	(void)state;
	assert_true(sdefuse_owns(&E, L->base));
	assert_true(sdefuse_owns(&E, L->base + 0x1FC));
	assert_false(sdefuse_owns(&E, L->base + 0x200));
	assert_false(sdefuse_owns(&E, L->base - 4));
	sdefuse_init(&E, NULL);
	assert_false(sdefuse_owns(&E, 0x600B0800u));
}

static void test_simdev_efuse_program_key(void **state)
{
	uint32_t kw[11];

	(void)state;
	key_words(kw, 3);
	program(4 + 2, kw, 11);
	for (unsigned i = 0; i < 8; i++)
		assert_int_equal(key_rd(2, i), kw[i]);
	for (unsigned i = 0; i < 11; i++)
		assert_int_equal(E.fuse[6][i], kw[i]);
	assert_int_equal(r(EFUSE_RD_RS_ERR0) | r(EFUSE_RD_RS_ERR1), 0);
	assert_int_equal(E.programs, 1);
	/* other key blocks untouched */
	assert_int_equal(key_rd(0, 0) | key_rd(1, 0) | key_rd(3, 0), 0);
}

static void test_simdev_efuse_needs_read_cmd(void **state)
{
	uint32_t kw[11];

	(void)state;
	key_words(kw, 9);
	for (unsigned i = 0; i < 11; i++)
		w(EFUSE_PGM_DATA0 + 4 * i, kw[i]);
	w(EFUSE_CONF, EFUSE_WRITE_OP_CODE);
	w(EFUSE_CMD, EFUSE_CMD_PGM | 4u << 2);
	/* burnt, but the read registers still show what was loaded before */
	assert_int_equal(E.fuse[4][0], kw[0]);
	assert_int_equal(key_rd(0, 0), 0);
	w(EFUSE_CONF, EFUSE_READ_OP_CODE);
	w(EFUSE_CMD, EFUSE_CMD_READ);
	assert_int_equal(key_rd(0, 0), kw[0]);
}

static void test_simdev_efuse_wrong_op_code(void **state)
{
	uint32_t kw[11];

	(void)state;
	key_words(kw, 1);
	for (unsigned i = 0; i < 11; i++)
		w(EFUSE_PGM_DATA0 + 4 * i, kw[i]);
	w(EFUSE_CONF, EFUSE_READ_OP_CODE); /* not the write op code */
	w(EFUSE_CMD, EFUSE_CMD_PGM | 4u << 2);
	assert_int_equal(E.fuse[4][0], 0);
	assert_int_equal(E.programs, 0);
	w(EFUSE_CONF, 0x1234);
	w(EFUSE_CMD, EFUSE_CMD_PGM | 4u << 2);
	assert_int_equal(E.programs, 0);
}

static void test_simdev_efuse_burn_once(void **state)
{
	uint32_t a[11] = { 0x0000FFFFu }, b[11] = { 0xFFFF0000u }, zero[11] = { 0 };

	(void)state;
	program(10, a, 11);
	program(10, b, 11);
	assert_int_equal(E.fuse[10][0], 0xFFFFFFFFu);
	/* programming zeros clears nothing */
	program(10, zero, 11);
	assert_int_equal(E.fuse[10][0], 0xFFFFFFFFu);
	/* RS check words do not match the data: the controller says so */
	assert_int_not_equal(r(EFUSE_RD_RS_ERR1) & (1u << 7), 0);
}

static void test_simdev_efuse_rs_failure_c6(void **state)
{
	uint32_t kw[11];

	(void)state;
	key_words(kw, 5);
	kw[9] ^= 0x100; /* one wrong check byte */
	program(4, kw, 11);
	unsigned n;
	int f;
	efuse_rs_status(L, 4, r(EFUSE_RD_RS_ERR0), r(EFUSE_RD_RS_ERR1), &n, &f);
	assert_int_equal(f, 1);
	assert_int_equal(n, 1);
	assert_int_not_equal(r(EFUSE_RD_RS_ERR0) & (1u << 15), 0);
}

static void test_simdev_efuse_rs_failure_c3_shift(void **state)
{
	uint32_t kw[11];

	(void)state;
	key_words(kw, 5);
	kw[8] ^= 1;
	program(4, kw, 11);
	/* the C3 reports BLOCK_KEY0's fail bit at 19, not 15 */
	assert_int_equal(r(EFUSE_RD_RS_ERR0) & (1u << 15), 0);
	assert_int_not_equal(r(EFUSE_RD_RS_ERR0) & (1u << 19), 0);
}

static void test_simdev_efuse_read_protect(void **state)
{
	uint32_t kw[11], b0[6] = { 0 };

	(void)state;
	key_words(kw, 77);
	program(4 + 1, kw, 11);
	b0[1] = 1u << 1; /* RD_DIS KEY1 */
	b0[2] = 8u << 28; /* KEY_PURPOSE_1 = HMAC_UP */
	program(0, b0, 6);
	for (unsigned i = 0; i < 8; i++)
		assert_int_equal(key_rd(1, i), 0);
	/* the fuses keep the key; BLOCK0 shows the purpose and RD_DIS */
	assert_int_equal(E.fuse[5][0], kw[0]);
	assert_int_equal(r(EFUSE_BLK0_RD + 4) & 0x7F, 2);
	assert_int_equal(r(EFUSE_BLK0_RD + 8) >> 28, 8);
	/* the RS check is done on the fuses, not on what reads show */
	assert_int_equal(r(EFUSE_RD_RS_ERR0), 0);
}

static void test_simdev_efuse_write_protect(void **state)
{
	uint32_t kw[11], more[11], b0[6] = { 0 };

	(void)state;
	key_words(kw, 12);
	program(4 + 3, kw, 11);
	b0[0] = 1u << EFUSE_WR_DIS_BLOCK(7) | 1u << EFUSE_WR_DIS_PURPOSE(3) | 1u << EFUSE_WR_DIS_RD_DIS;
	b0[3] = 8u << 4; /* KEY_PURPOSE_3 */
	program(0, b0, 6);
	for (unsigned i = 0; i < 11; i++)
		more[i] = 0xFFFFFFFFu;
	program(4 + 3, more, 11);
	assert_int_equal(E.fuse[7][0], kw[0]);
	/* the purpose and RD_DIS are frozen too, other fields are not */
	memset(b0, 0, sizeof(b0));
	b0[1] = 0x7F;
	b0[3] = 0xFFFFu;
	program(0, b0, 6);
	assert_int_equal(r(EFUSE_BLK0_RD + 4) & 0x7F, 0);
	assert_int_equal(r(EFUSE_BLK0_RD + 12) & 0xFFFFu, 0xFF8Fu);
}

static void test_simdev_efuse_persist(void **state)
{
	char path[] = "/tmp/test_simdev_efuse.XXXXXX";
	char msg[256];
	int fd = mkstemp(path);
	uint32_t kw[11];
	struct sdefuse e2;

	(void)state;
	assert_true(fd >= 0);
	close(fd);
	unlink(path);
	assert_int_equal(sdefuse_load(&E, path, msg, sizeof(msg)), 0); /* created */
	assert_int_equal(access(path, F_OK), 0);
	key_words(kw, 44);
	program(4, kw, 11);
	sdefuse_init(&e2, L);
	assert_int_equal(sdefuse_load(&e2, path, msg, sizeof(msg)), 0);
	assert_memory_equal(e2.fuse, E.fuse, sizeof(E.fuse));
	assert_int_equal(sdefuse_read(&e2, L->base + efuse_block_rd_offset(4)), kw[0]);
	/* a truncated file is refused with its name */
	FILE *f = fopen(path, "r+");
	assert_non_null(f);
	assert_int_equal(ftruncate(fileno(f), 20), 0);
	fclose(f);
	sdefuse_init(&e2, L);
	assert_int_equal(sdefuse_load(&e2, path, msg, sizeof(msg)), -1);
	assert_non_null(strstr(msg, path));
	unlink(path);
}

static void test_simdev_efuse_reset_keeps_fuses(void **state)
{
	uint32_t kw[11];

	(void)state;
	key_words(kw, 2);
	program(4, kw, 11);
	w(EFUSE_PGM_DATA0, 0xABCD);
	sdefuse_reset(&E);
	assert_int_equal(r(EFUSE_PGM_DATA0), 0);
	assert_int_equal(key_rd(0, 0), kw[0]);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup(test_simdev_efuse_owns_range, setup_c6),
		cmocka_unit_test_setup(test_simdev_efuse_program_key, setup_c6),
		cmocka_unit_test_setup(test_simdev_efuse_needs_read_cmd, setup_c6),
		cmocka_unit_test_setup(test_simdev_efuse_wrong_op_code, setup_c6),
		cmocka_unit_test_setup(test_simdev_efuse_burn_once, setup_c6),
		cmocka_unit_test_setup(test_simdev_efuse_rs_failure_c6, setup_c6),
		cmocka_unit_test_setup(test_simdev_efuse_rs_failure_c3_shift, setup_c3),
		cmocka_unit_test_setup(test_simdev_efuse_read_protect, setup_c3),
		cmocka_unit_test_setup(test_simdev_efuse_write_protect, setup_c6),
		cmocka_unit_test_setup(test_simdev_efuse_persist, setup_c6),
		cmocka_unit_test_setup(test_simdev_efuse_reset_keeps_fuses, setup_c3),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
