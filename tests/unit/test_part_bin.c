/* part_bin.c: the 32-byte entry layout, the MD5 entry, the end marker, and
 * round trips CSV -> binary -> CSV. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>

#include "espfab/part.h"

static struct part_table *csv(const char *text, const struct part_opts *o)
{
	struct part_table *t = NULL;
	struct part_err err;

	assert_int_equal(part_csv_parse((const uint8_t *)text, strlen(text), o, &t, &err), 0);
	return t;
}

static void md5(const uint8_t *d, size_t n, uint8_t out[16])
{
	unsigned int len = 0;

	assert_int_equal(EVP_Digest(d, n, out, &len, EVP_md5(), NULL), 1);
}

static void test_part_bin_entry_layout(void **state)
{
	struct part_table *t = csv("abcdefghijklmnop,data,nvs,0x9000,0x6000,encrypted:readonly\nf,app,ota_1,,1M\n", NULL);
	uint8_t b[PART_TABLE_MAX_LEN], digest[16];
	struct part_err err;
	static const uint8_t e0[32] = {0xaa, 0x50, 0x01, 0x02, 0x00, 0x90, 0x00, 0x00, 0x00, 0x60, 0x00,
				       0x00, 'a',  'b',  'c',  'd',  'e',  'f',  'g',  'h',  'i',  'j',
				       'k',  'l',  'm',  'n',  'o',  'p',  0x03, 0x00, 0x00, 0x00};

	(void)state;
	assert_int_equal(part_bin_write(t, NULL, b, &err), 0);
	assert_memory_equal(b, e0, 32);
	assert_int_equal(b[32 + 2], 0x00);
	assert_int_equal(b[32 + 3], 0x11);
	assert_int_equal(b[32 + 6], 0x01); /* offset 0x10000 little-endian */
	assert_int_equal(b[32 + 12], 'f');
	assert_int_equal(b[32 + 13], 0); /* NUL padding */
	/* MD5 entry: EB EB, 14 x FF, MD5 of the two entries */
	assert_int_equal(b[64], 0xeb);
	assert_int_equal(b[65], 0xeb);
	for (int i = 66; i < 80; i++)
		assert_int_equal(b[i], 0xff);
	md5(b, 64, digest);
	assert_memory_equal(b + 80, digest, 16);
	for (size_t i = 96; i < sizeof(b); i++)
		assert_int_equal(b[i], 0xff);
	part_table_free(t);
}

static void test_part_bin_round_trip(void **state)
{
	const char *text = "nvs,data,nvs,,24K,readonly\ncustom,0x40,1,,4K,encrypted\nnumapp,app,ota_0,,1M\n"
			   "abcdefghijklmnop,data,0x99,0x110000,0x1100\ntst,app,test,,64K\n";
	struct part_table *t = csv(text, NULL), *back = NULL;
	uint8_t b[PART_TABLE_MAX_LEN];
	struct part_err err;
	char *out = NULL;

	(void)state;
	assert_int_equal(part_bin_write(t, NULL, b, &err), 0);
	assert_int_equal(part_bin_parse(b, sizeof(b), NULL, &back, &err), 0);
	assert_true(back->has_md5);
	assert_int_equal(back->count, t->count);
	for (size_t i = 0; i < t->count; i++) {
		assert_string_equal(back->entries[i].name, t->entries[i].name);
		assert_int_equal(back->entries[i].type, t->entries[i].type);
		assert_int_equal(back->entries[i].subtype, t->entries[i].subtype);
		assert_int_equal(back->entries[i].offset, t->entries[i].offset);
		assert_int_equal(back->entries[i].size, t->entries[i].size);
		assert_int_equal(back->entries[i].flags, t->entries[i].flags);
		assert_int_equal(back->entries[i].pos, (long)(i * 32));
		assert_int_equal(back->entries[i].line, 0);
	}
	assert_int_equal(part_csv_write(back, NULL, &out, &err), 0);
	assert_string_equal(out, "# ESP-IDF Partition Table\n# Name, Type, SubType, Offset, Size, Flags\n"
				 "nvs,data,nvs,0x9000,24K,readonly\ncustom,64,1,0xf000,4K,encrypted\n"
				 "numapp,app,ota_0,0x10000,1M,\nabcdefghijklmnop,data,153,0x110000,0x1100,\n"
				 "tst,app,test,0x120000,64K,\n");
	free(out);
	part_table_free(back);
	part_table_free(t);
}

static void test_part_bin_matches_golden(void **state)
{
	char path[512];
	uint8_t in[4096], want[PART_TABLE_MAX_LEN + 1], got[PART_TABLE_MAX_LEN];
	struct part_table *t = NULL;
	struct part_err err;
	size_t n, m;
	FILE *f;

	(void)state;
	snprintf(path, sizeof(path), "%s/golden/partition/008-builtin-two-ota/input.csv", ESPFAB_SHARED_DIR);
	f = fopen(path, "rb");
	if (!f)
		skip();
	n = fread(in, 1, sizeof(in), f);
	fclose(f);
	snprintf(path, sizeof(path), "%s/golden/partition/008-builtin-two-ota/expected.bin", ESPFAB_SHARED_DIR);
	f = fopen(path, "rb");
	assert_non_null(f);
	m = fread(want, 1, sizeof(want), f);
	fclose(f);
	assert_int_equal(m, PART_TABLE_MAX_LEN);
	assert_int_equal(part_csv_parse(in, n, NULL, &t, &err), 0);
	assert_int_equal(part_table_verify(t, NULL, &err), 0);
	assert_int_equal(part_bin_write(t, NULL, got, &err), 0);
	assert_memory_equal(got, want, PART_TABLE_MAX_LEN);
	part_table_free(t);
}

static char *many(size_t n)
{
	char *s = malloc(n * 40 + 1);
	size_t len = 0;

	for (size_t i = 0; i < n; i++)
		len += (size_t)sprintf(s + len, "p%zu,data,fat,,4K\n", i);
	s[len] = '\0';
	return s;
}

static void test_part_bin_entry_limit(void **state)
{
	struct part_opts o;
	uint8_t b[PART_TABLE_MAX_LEN];
	struct part_err err;
	char *s94 = many(94), *s95 = many(95), *s96 = many(96);
	struct part_table *t94 = csv(s94, NULL), *t95 = csv(s95, NULL), *t96 = csv(s96, NULL);

	(void)state;
	part_opts_init(&o);
	assert_int_equal(part_bin_write(t94, &o, b, &err), 0);
	assert_int_equal(part_bin_write(t95, &o, b, &err), PART_ETOOBIG);
	assert_string_equal(err.msg, "Binary partition table length (3072) longer than max");
	o.md5 = false;
	assert_int_equal(part_bin_write(t95, &o, b, &err), 0);
	assert_int_equal(b[95 * 32], 0xff);
	assert_int_equal(b[94 * 32], 0xaa);
	assert_int_equal(part_bin_write(t96, &o, b, &err), PART_ETOOBIG);
	part_table_free(t94);
	part_table_free(t95);
	part_table_free(t96);
	free(s94);
	free(s95);
	free(s96);
}

static void build(uint8_t b[PART_TABLE_MAX_LEN], bool with_md5)
{
	struct part_opts o;
	struct part_err err;
	struct part_table *t = csv("nvs,data,nvs,,0x6000\nphy_init,data,phy,,4K\nfactory,app,factory,,1M\n", NULL);

	part_opts_init(&o);
	o.md5 = with_md5;
	assert_int_equal(part_bin_write(t, &o, b, &err), 0);
	part_table_free(t);
}

static void test_part_bin_bad_md5(void **state)
{
	uint8_t b[PART_TABLE_MAX_LEN];
	struct part_table *t = (struct part_table *)1;
	struct part_opts o;
	struct part_err err;

	(void)state;
	build(b, true);
	b[3 * 32 + 31] ^= 0x01;
	assert_int_equal(part_bin_parse(b, sizeof(b), NULL, &t, &err), PART_EMD5);
	assert_null(t);
	assert_int_equal(err.pos, 96);
	assert_non_null(strstr(err.msg, "MD5 checksums don't match! (computed: 0x"));
	/* a changed entry breaks the digest too */
	build(b, true);
	b[4] ^= 0x10;
	assert_int_equal(part_bin_parse(b, sizeof(b), NULL, &t, &err), PART_EMD5);
	/* with MD5 off, the MD5 row is read as an entry and has the wrong magic */
	build(b, true);
	part_opts_init(&o);
	o.md5 = false;
	assert_int_equal(part_bin_parse(b, sizeof(b), &o, &t, &err), PART_EBINARY);
	assert_int_equal(err.pos, 96);
	assert_non_null(strstr(err.msg, "Invalid magic bytes"));
}

static void test_part_bin_no_md5_entry(void **state)
{
	uint8_t b[PART_TABLE_MAX_LEN];
	struct part_table *t = NULL;
	struct part_err err;

	(void)state;
	build(b, false);
	assert_int_equal(part_bin_parse(b, sizeof(b), NULL, &t, &err), 0);
	assert_false(t->has_md5);
	assert_int_equal(t->count, 3);
	part_table_free(t);
}

static void test_part_bin_end_marker_and_length(void **state)
{
	uint8_t b[PART_TABLE_MAX_LEN + 40];
	struct part_table *t = NULL;
	struct part_err err;

	(void)state;
	build(b, true);
	/* no end marker: entries + MD5 and nothing else */
	assert_int_equal(part_bin_parse(b, 4 * 32, NULL, &t, &err), PART_ENOEND);
	assert_string_equal(err.msg, "Partition table is missing an end-of-table marker");
	/* a length that is not a multiple of 32 fails only when the reader gets there */
	assert_int_equal(part_bin_parse(b, 4 * 32 + 5, NULL, &t, &err), PART_EBINARY);
	assert_string_equal(err.msg, "Partition table length must be a multiple of 32 bytes");
	assert_int_equal(err.pos, 128);
	assert_int_equal(part_bin_parse(b, 5 * 32 + 5, NULL, &t, &err), 0);
	part_table_free(t);
	/* whatever follows the end marker is ignored */
	memset(b + PART_TABLE_MAX_LEN, 0x00, 40);
	b[6 * 32] = 0x12;
	assert_int_equal(part_bin_parse(b, sizeof(b), NULL, &t, &err), 0);
	assert_int_equal(t->count, 3);
	part_table_free(t);
}

struct warnings {
	int n;
	char last[256];
};

static void collect(void *user, unsigned line, long pos, const char *text)
{
	struct warnings *w = user;

	(void)line;
	(void)pos;
	w->n++;
	snprintf(w->last, sizeof(w->last), "%s", text);
}

static void test_part_bin_unknown_flags_warn_and_drop(void **state)
{
	uint8_t b[PART_TABLE_MAX_LEN];
	struct part_table *t = NULL;
	struct part_opts o;
	struct part_err err;
	struct warnings w = {0};

	(void)state;
	build(b, false);
	b[28] = 0x06; /* readonly + bit 2 */
	b[31] = 0x80;
	part_opts_init(&o);
	o.md5 = false;
	o.warn = collect;
	o.warn_user = &w;
	assert_int_equal(part_bin_parse(b, sizeof(b), &o, &t, &err), 0);
	assert_int_equal(w.n, 1);
	assert_string_equal(w.last, "Partition definition had unknown flag(s) 0x80000004. Newer binary format?");
	assert_int_equal(t->entries[0].flags, PART_FLAG_READONLY);
	part_table_free(t);
}

static void test_part_bin_label_must_be_utf8(void **state)
{
	uint8_t b[PART_TABLE_MAX_LEN];
	struct part_table *t = NULL;
	struct part_opts o;
	struct part_err err;

	(void)state;
	build(b, false);
	part_opts_init(&o);
	o.md5 = false;
	b[32 + 12] = 0xff;
	assert_int_equal(part_bin_parse(b, sizeof(b), &o, &t, &err), PART_EBINARY);
	assert_int_equal(err.pos, 32);
	/* a label is cut at its first NUL, and 16 bytes need none */
	build(b, false);
	memcpy(b + 12, "abcdefghijklmnop", 16);
	b[32 + 12 + 1] = 0;
	assert_int_equal(part_bin_parse(b, sizeof(b), &o, &t, &err), 0);
	assert_string_equal(t->entries[0].name, "abcdefghijklmnop");
	assert_string_equal(t->entries[1].name, "p");
	part_table_free(t);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_part_bin_entry_layout),
		cmocka_unit_test(test_part_bin_round_trip),
		cmocka_unit_test(test_part_bin_matches_golden),
		cmocka_unit_test(test_part_bin_entry_limit),
		cmocka_unit_test(test_part_bin_bad_md5),
		cmocka_unit_test(test_part_bin_no_md5_entry),
		cmocka_unit_test(test_part_bin_end_marker_and_length),
		cmocka_unit_test(test_part_bin_unknown_flags_warn_and_drop),
		cmocka_unit_test(test_part_bin_label_must_be_utf8),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
