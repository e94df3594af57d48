/* Page and entry layout. Expected bytes come from images the reference
 * (nvs_partition_gen.py 0.2.0) wrote: ../shared/golden/nvs/085 and 001. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "../../nvsgen/nvs_internal.h"

static void test_nvs_page_crc32_uses_ffffffff_start(void **state)
{
	(void)state;
	/* zlib.crc32(b"123456789", 0xFFFFFFFF) */
	assert_int_equal(nvs_crc32((const uint8_t *)"123456789", 9), 0xd202d277u);
}

static void test_nvs_page_header_v2_page0(void **state)
{
	(void)state;
	struct nvs_layout l;
	struct nvs_err err;
	const uint8_t want[32] = {0xfe, 0xff, 0xff, 0xff, 0x00, 0x00, 0x00, 0x00, 0xfe, 0xff, 0xff,
				  0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
				  0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x84, 0x2d, 0xba, 0xb9};

	assert_int_equal(nvs_layout_init(&l, 0x6000, NVS_VERSION_2, &err), 0);
	assert_memory_equal(l.img, want, 32);
	assert_int_equal(l.npages, 1);
	assert_int_equal(l.read_only, false);
	assert_int_equal(nvs_layout_image_len(&l), 0x6000);
	nvs_layout_deinit(&l);
}

static void test_nvs_page_header_v1_and_seq(void **state)
{
	(void)state;
	struct nvs_layout l;
	struct nvs_err err;
	uint8_t *p1;

	assert_int_equal(nvs_layout_init(&l, 0x4000, NVS_VERSION_1, &err), 0);
	assert_int_equal(l.img[8], 0xff);
	assert_int_equal(nvs_page_new(&l, &err), 0);
	/* Page 0 became FULL, page 1 is ACTIVE with sequence number 1. */
	assert_int_equal(le_get32(l.img), NVS_STATE_FULL);
	p1 = l.img + 4096;
	assert_int_equal(le_get32(p1), NVS_STATE_ACTIVE);
	assert_int_equal(le_get32(p1 + 4), 1);
	assert_int_equal(le_get32(p1 + 28), nvs_crc32(p1 + 4, 24));
	nvs_layout_deinit(&l);
}

static void test_nvs_page_entry_crc_and_bitmap(void **state)
{
	(void)state;
	struct nvs_layout l;
	struct nvs_err err;
	uint8_t e[32];
	/* The namespace entry "first" -> 1 of golden case 085. */
	const uint8_t want[32] = {0x00, 0x01, 0x01, 0xff, 0x84, 0x78, 0xd4, 0x27, 'f',	'i',  'r',
				  's',	't',  0,    0,	  0,	0,    0,    0,	  0,	0,    0,
				  0,	0,    0x01, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff};

	memset(e, 0xff, sizeof(e));
	e[0] = 0;
	e[1] = NVS_TYPE_U8;
	e[2] = 1;
	memset(e + 8, 0, 16);
	memcpy(e + 8, "first", 5);
	e[24] = 1;
	nvs_entry_set_crc(e);
	assert_memory_equal(e, want, 32);

	assert_int_equal(nvs_layout_init(&l, 0x6000, NVS_VERSION_2, &err), 0);
	for (int i = 0; i < 5; i++)
		nvs_page_write(&l, e, 32, 1);
	/* Five written entries: states 10 10 10 10 | 10 11 11 11. */
	assert_int_equal(l.img[32], 0xaa);
	assert_int_equal(l.img[33], 0xfe);
	assert_int_equal(l.img[34], 0xff);
	assert_memory_equal(l.img + 64 + 4 * 32, want, 32);
	assert_int_equal(l.entries[0], 5);
	nvs_layout_deinit(&l);
}

static void test_nvs_page_budget_read_write_keeps_reserved_page(void **state)
{
	(void)state;
	struct nvs_layout l;
	struct nvs_err err;

	/* 0x3000: two data pages, the third is the reserved one. */
	assert_int_equal(nvs_layout_init(&l, 0x3000, NVS_VERSION_2, &err), 0);
	assert_int_equal(nvs_page_new(&l, &err), 0);
	assert_int_equal(nvs_page_new(&l, &err), NVS_ESIZE);
	assert_int_equal(err.code, NVS_ESIZE);
	assert_non_null(strstr(err.msg, "does not fit"));
	nvs_layout_deinit(&l);
}

static void test_nvs_page_read_only_image_is_pages_used(void **state)
{
	(void)state;
	struct nvs_layout l;
	struct nvs_err err;

	assert_int_equal(nvs_layout_init(&l, 0x2000, NVS_VERSION_2, &err), 0);
	assert_true(l.read_only);
	assert_int_equal(nvs_layout_image_len(&l), 0x1000);
	assert_int_equal(nvs_page_new(&l, &err), 0);
	assert_int_equal(nvs_layout_image_len(&l), 0x2000);
	assert_int_equal(nvs_page_new(&l, &err), NVS_ESIZE);
	nvs_layout_deinit(&l);
}

static void test_nvs_page_clear_refills_written_bytes(void **state)
{
	(void)state;
	struct nvs_layout l, fresh;
	struct nvs_err err;
	uint8_t e[32];

	memset(e, 0x11, sizeof(e));
	assert_int_equal(nvs_layout_init(&l, 0x5000, NVS_VERSION_2, &err), 0);
	assert_int_equal(nvs_layout_init(&fresh, 0x5000, NVS_VERSION_2, &err), 0);
	for (int i = 0; i < 130; i++) {
		if (l.entry_num >= NVS_PAGE_ENTRIES)
			assert_int_equal(nvs_page_new(&l, &err), 0);
		nvs_page_write(&l, e, 32, 1);
	}
	assert_int_equal(l.npages, 2);
	nvs_layout_clear(&l);
	assert_memory_equal(l.img, fresh.img, 0x5000);
	assert_int_equal(l.npages, 1);
	nvs_layout_deinit(&l);
	nvs_layout_deinit(&fresh);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_nvs_page_crc32_uses_ffffffff_start),
		cmocka_unit_test(test_nvs_page_header_v2_page0),
		cmocka_unit_test(test_nvs_page_header_v1_and_seq),
		cmocka_unit_test(test_nvs_page_entry_crc_and_bitmap),
		cmocka_unit_test(test_nvs_page_budget_read_write_keeps_reserved_page),
		cmocka_unit_test(test_nvs_page_read_only_image_is_pages_used),
		cmocka_unit_test(test_nvs_page_clear_refills_written_bytes),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
