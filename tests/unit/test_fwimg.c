/* fwimg: ESP-IDF flasher_args.json image sets, parsed and checked against a
 * product (partition table, NVS partition). */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>
#include <openssl/evp.h>

#include "espfab/fwimg.h"
#include "espfab/part.h"

static const char table_csv[] = "nvs,data,nvs,0x9000,0x6000,\n"
				"phy_init,data,phy,0xf000,0x1000,\n"
				"factory,app,factory,0x10000,1M,\n";
static const char table_moved_csv[] = "nvs,data,nvs,0xa000,0x6000,\n"
				      "factory,app,factory,0x10000,1M,\n";

/* What ESP-IDF writes for a plain esp32s3 build (flash encryption off). */
static const char good_json[] =
	"{\"write_flash_args\": [\"--flash-mode\", \"dio\", \"--flash-size\", \"2MB\", \"--flash-freq\", \"80m\"],\n"
	" \"flash_settings\": {\"flash_mode\": \"dio\", \"flash_size\": \"2MB\", \"flash_freq\": \"80m\"},\n"
	" \"flash_files\": {\"0x0\": \"bootloader/bootloader.bin\", \"0x10000\": \"app.bin\",\n"
	"                 \"0x8000\": \"partition_table/partition-table.bin\"},\n"
	" \"bootloader\": {\"offset\": \"0x0\", \"file\": \"bootloader/bootloader.bin\", \"encrypted\": \"false\"},\n"
	" \"app\": {\"offset\": \"0x10000\", \"file\": \"app.bin\", \"encrypted\": \"false\"},\n"
	" \"partition-table\": {\"offset\": \"0x8000\", \"file\": \"partition_table/partition-table.bin\", "
	"\"encrypted\": \"false\"},\n"
	" \"extra_esptool_args\": {\"after\": \"hard_reset\", \"before\": \"default_reset\", \"stub\": true, "
	"\"chip\": \"esp32s3\"}}\n";

struct memfile {
	const char *name;
	uint8_t *data;
	size_t len;
};

struct fixture {
	uint8_t table[PART_TABLE_MAX_LEN];
	uint8_t moved[PART_TABLE_MAX_LEN];
	uint8_t boot[4096], app[8192];
	struct memfile files[4];
	size_t nfiles;
	struct fwimg_err err;
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

static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));

	make_table(table_csv, f->table);
	make_table(table_moved_csv, f->moved);
	for (size_t i = 0; i < sizeof(f->boot); i++)
		f->boot[i] = (uint8_t)(i * 7 + 1);
	for (size_t i = 0; i < sizeof(f->app); i++)
		f->app[i] = (uint8_t)(i * 13 + 5);
	f->files[0] = (struct memfile){"bootloader/bootloader.bin", f->boot, sizeof(f->boot)};
	f->files[1] = (struct memfile){"app.bin", f->app, sizeof(f->app)};
	f->files[2] = (struct memfile){"partition_table/partition-table.bin", f->table, sizeof(f->table)};
	f->nfiles = 3;
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	free(*state);
	return 0;
}

static int mem_load(void *ctx, const char *file, uint8_t **data, size_t *len)
{
	struct fixture *f = ctx;

	for (size_t i = 0; i < f->nfiles; i++)
		if (!strcmp(f->files[i].name, file)) {
			*data = malloc(f->files[i].len ? f->files[i].len : 1);
			if (f->files[i].len)
				memcpy(*data, f->files[i].data, f->files[i].len);
			*len = f->files[i].len;
			return 0;
		}
	return -ENOENT;
}

static int parse(struct fixture *f, const char *json, struct fwimg_set **out)
{
	memset(&f->err, 0, sizeof(f->err));
	return fwimg_parse(json, strlen(json), "build/flasher_args.json", mem_load, f, out, &f->err);
}

/* base with one substring replaced. */
static char *edit_of(const char *base, const char *from, const char *to)
{
	const char *at = strstr(base, from);
	size_t n = strlen(base) - strlen(from) + strlen(to) + 1;
	char *s = malloc(n);

	assert_non_null(at);
	snprintf(s, n, "%.*s%s%s", (int)(at - base), base, to, at + strlen(from));
	return s;
}

static char *edit(const char *from, const char *to)
{
	return edit_of(good_json, from, to);
}

/* Parsing fails with code and a one-line message holding every needle. */
static void expect_fail(struct fixture *f, const char *json, int code, const char *n1, const char *n2)
{
	struct fwimg_set *set = (struct fwimg_set *)&set; /* must be cleared */

	assert_int_equal(parse(f, json, &set), code);
	assert_null(set);
	assert_null(strchr(f->err.msg, '\n'));
	if (!strstr(f->err.msg, n1) || (n2 && !strstr(f->err.msg, n2)))
		fail_msg("message '%s' lacks '%s' / '%s'", f->err.msg, n1, n2 ? n2 : "");
}

static void test_fwimg_parses_esp_idf_file(void **state)
{
	struct fixture *f = *state;
	struct fwimg_set *set = NULL;
	uint8_t md[32];
	char hex[65];

	assert_int_equal(parse(f, good_json, &set), 0);
	assert_non_null(set);
	assert_string_equal(set->chip, "esp32s3");
	assert_int_equal(set->n, 3);
	assert_int_equal(set->total, sizeof(f->boot) + sizeof(f->app) + sizeof(f->table));
	/* Sorted by offset, named by their flash targets. */
	assert_int_equal(set->images[0].offset, 0x0);
	assert_string_equal(set->images[0].name, "bootloader");
	assert_string_equal(set->images[0].file, "bootloader/bootloader.bin");
	assert_int_equal(set->images[1].offset, 0x8000);
	assert_string_equal(set->images[1].name, "partition-table");
	assert_int_equal(set->images[2].offset, 0x10000);
	assert_string_equal(set->images[2].name, "app");
	assert_memory_equal(set->images[2].data, f->app, sizeof(f->app));
	assert_int_equal(EVP_Digest(f->app, sizeof(f->app), md, NULL, EVP_sha256(), NULL), 1);
	for (int i = 0; i < 32; i++)
		snprintf(hex + 2 * i, 3, "%02x", md[i]);
	assert_string_equal(set->images[2].sha256, hex);
	assert_ptr_equal(fwimg_find(set, 0x8000), &set->images[1]);
	assert_null(fwimg_find(set, 0x9000));
	/* It fits the product: table equal, NVS untouched. */
	assert_int_equal(fwimg_check_product(set, "fa.json", f->table, sizeof(f->table), 0x8000, 0x9000, 0x6000,
					     &f->err),
			 0);
	/* A second reference outlives the first. */
	struct fwimg_set *ref = fwimg_set_ref(set);
	fwimg_set_unref(set);
	assert_string_equal(ref->images[0].name, "bootloader");
	fwimg_set_unref(ref);
	fwimg_set_unref(NULL);
}

static void test_fwimg_missing_file_names_file_and_key(void **state)
{
	struct fixture *f = *state;

	f->nfiles = 2; /* no partition-table.bin */
	expect_fail(f, good_json, FWIMG_EIO, "build/flasher_args.json: flash_files.0x8000",
		    "partition_table/partition-table.bin");
}

static void test_fwimg_load_reads_relative_to_json(void **state)
{
	struct fixture *f = *state;
	char dir[] = "/tmp/espfab-fwimg-XXXXXX", path[256];
	struct fwimg_set *set = NULL;
	FILE *fp;

	assert_non_null(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/bootloader", dir);
	assert_int_equal(mkdir(path, 0700), 0);
	snprintf(path, sizeof(path), "%s/partition_table", dir);
	assert_int_equal(mkdir(path, 0700), 0);
	for (size_t i = 0; i < 3; i++) {
		snprintf(path, sizeof(path), "%s/%s", dir, f->files[i].name);
		assert_non_null(fp = fopen(path, "wb"));
		assert_int_equal(fwrite(f->files[i].data, 1, f->files[i].len, fp), f->files[i].len);
		fclose(fp);
	}
	snprintf(path, sizeof(path), "%s/flasher_args.json", dir);
	assert_non_null(fp = fopen(path, "w"));
	fputs(good_json, fp);
	fclose(fp);
	assert_int_equal(fwimg_load(path, &set, &f->err), 0);
	assert_int_equal(set->n, 3);
	assert_memory_equal(set->images[0].data, f->boot, sizeof(f->boot));
	fwimg_set_unref(set);
	/* The file gone: the message names the JSON file, the key and the image. */
	snprintf(path, sizeof(path), "%s/app.bin", dir);
	assert_int_equal(unlink(path), 0);
	snprintf(path, sizeof(path), "%s/flasher_args.json", dir);
	assert_int_equal(fwimg_load(path, &set, &f->err), FWIMG_EIO);
	assert_null(set);
	assert_non_null(strstr(f->err.msg, "flasher_args.json: flash_files.0x10000: app.bin: No such file"));
	char cmd[300];
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	assert_int_equal(system(cmd), 0);
	/* A missing JSON file. */
	assert_int_equal(fwimg_load("/nonexistent/flasher_args.json", &set, &f->err), FWIMG_EIO);
	assert_non_null(strstr(f->err.msg, "/nonexistent/flasher_args.json: No such file"));
}

static void test_fwimg_bad_offsets(void **state)
{
	struct fixture *f = *state;
	char *j;

	/* The named target still says 0x10000. */
	j = edit("\"0x10000\": \"app.bin\"", "\"0x10800\": \"app.bin\"");
	expect_fail(f, j, FWIMG_EINPUT, "app: 0x10000 app.bin is not in flash_files", NULL);
	char *k = edit_of(j, "{\"offset\": \"0x10000\"", "{\"offset\": \"0x10800\"");
	free(j);
	j = k;
	expect_fail(f, j, FWIMG_EINPUT, "build/flasher_args.json: flash_files.0x10800 (app.bin): offset is not a "
					"multiple of 4 KiB",
		    NULL);
	free(j);
	j = edit("\"0x0\": \"bootloader", "\"zero\": \"bootloader");
	expect_fail(f, j, FWIMG_EINPUT, "flash_files: key 'zero' is not a flash offset", NULL);
	free(j);
	j = edit("\"0x0\": \"bootloader", "\"0x100000000\": \"bootloader");
	expect_fail(f, j, FWIMG_EINPUT, "key '0x100000000' is not a flash offset", NULL);
	free(j);
	j = edit("\"offset\": \"0x0\"", "\"offset\": \"0x0 \"");
	expect_fail(f, j, FWIMG_EINPUT, "bootloader.offset: must be a flash offset", NULL);
	free(j);
}

static void test_fwimg_overlaps_refused(void **state)
{
	struct fixture *f = *state;
	struct fwimg_set *set = NULL;
	char *j;

	/* app.bin (8 KiB at 0x10000) and another image at 0x11000. */
	f->files[3] = (struct memfile){"extra.bin", f->boot, sizeof(f->boot)};
	f->nfiles = 4;
	j = edit("\"0x10000\": \"app.bin\",", "\"0x10000\": \"app.bin\", \"0x11000\": \"extra.bin\",");
	expect_fail(f, j, FWIMG_ECONFLICT, "flash_files.0x11000: extra.bin (0x11000..0x12000) overlaps app.bin "
					   "(0x10000..0x12000)",
		    NULL);
	free(j);
	/* An image over the NVS partition: per-device data. */
	j = edit("\"0x10000\": \"app.bin\",", "\"0x10000\": \"app.bin\", \"0xa000\": \"extra.bin\",");
	assert_int_equal(parse(f, j, &set), 0);
	free(j);
	assert_int_equal(fwimg_check_product(set, "build/flasher_args.json", f->table, sizeof(f->table), 0x8000,
					     0x9000, 0x6000, &f->err),
			 FWIMG_ECONFLICT);
	assert_non_null(strstr(f->err.msg, "build/flasher_args.json: flash_files.0xa000: extra.bin (0xa000..0xb000) "
					   "overlaps the NVS partition (0x9000..0xf000)"));
	/* Right after the partition: fine. */
	assert_int_equal(fwimg_check_product(set, "x", f->table, sizeof(f->table), 0x8000, 0x9000, 0x1000, &f->err),
			 0);
	fwimg_set_unref(set);
}

static void test_fwimg_encrypted_refused(void **state)
{
	struct fixture *f = *state;
	char *j = edit("\"app.bin\", \"encrypted\": \"false\"", "\"app.bin\", \"encrypted\": \"true\"");

	expect_fail(f, j, FWIMG_EINPUT, "build/flasher_args.json: app.encrypted: flash encryption is not supported",
		    NULL);
	free(j);
	j = edit("\"app.bin\", \"encrypted\": \"false\"", "\"app.bin\", \"encrypted\": true");
	expect_fail(f, j, FWIMG_EINPUT, "app.encrypted: flash encryption", NULL);
	free(j);
	j = edit("\"app.bin\", \"encrypted\": \"false\"", "\"app.bin\", \"encrypted\": \"maybe\"");
	expect_fail(f, j, FWIMG_EINPUT, "app.encrypted: must be \"true\" or \"false\"", NULL);
	free(j);
}

static void test_fwimg_wrong_types(void **state)
{
	struct fixture *f = *state;
	char *j;

	j = edit("\"flash_files\": {\"0x0\": \"bootloader/bootloader.bin\", \"0x10000\": \"app.bin\",\n"
		 "                 \"0x8000\": \"partition_table/partition-table.bin\"}",
		 "\"flash_files\": [\"app.bin\"]");
	expect_fail(f, j, FWIMG_EINPUT, "build/flasher_args.json: flash_files: must be an object", NULL);
	free(j);
	j = edit("\"0x10000\": \"app.bin\"", "\"0x10000\": 7");
	expect_fail(f, j, FWIMG_EINPUT, "flash_files.0x10000: must be a file name", NULL);
	free(j);
	j = edit("{\"offset\": \"0x10000\"", "{\"offset\": 65536");
	expect_fail(f, j, FWIMG_EINPUT, "build/flasher_args.json: app.offset: must be a flash offset string", NULL);
	free(j);
	j = edit("\"file\": \"app.bin\"", "\"file\": [1]");
	expect_fail(f, j, FWIMG_EINPUT, "app.file: must be a file name", NULL);
	free(j);
	j = edit("\"chip\": \"esp32s3\"", "\"chip\": 3");
	expect_fail(f, j, FWIMG_EINPUT, "extra_esptool_args.chip: must be a chip name", NULL);
	free(j);
	j = edit("\"chip\": \"esp32s3\"", "\"stub2\": 1");
	expect_fail(f, j, FWIMG_EINPUT, "extra_esptool_args.chip: missing", NULL);
	free(j);
	expect_fail(f, "[]", FWIMG_EINPUT, "build/flasher_args.json: not a JSON object", NULL);
	expect_fail(f, "{\"flash_files\": {", FWIMG_EINPUT, "build/flasher_args.json:1: ", NULL);
	expect_fail(f, "{\"a\":1, \"a\":2}", FWIMG_EINPUT, "build/flasher_args.json:1: duplicate", NULL);
	/* Unknown keys of other shapes are ignored (newer ESP-IDF). */
	struct fwimg_set *set = NULL;
	j = edit("\"extra_esptool_args\"", "\"future\": [1, 2], \"also\": {\"x\": 1}, \"extra_esptool_args\"");
	assert_int_equal(parse(f, j, &set), 0);
	fwimg_set_unref(set);
	free(j);
}

static void test_fwimg_empty_and_mismatched_images(void **state)
{
	struct fixture *f = *state;
	struct fwimg_set *set = NULL;

	f->files[1].len = 0;
	expect_fail(f, good_json, FWIMG_EINPUT, "flash_files.0x10000: app.bin is empty", NULL);
	f->files[1].len = sizeof(f->app);
	/* A named target that flash_files does not list. */
	char *j = edit("\"file\": \"app.bin\"", "\"file\": \"other.bin\"");
	expect_fail(f, j, FWIMG_EINPUT, "app: 0x10000 other.bin is not in flash_files", NULL);
	free(j);
	/* The table image is not the product's table: both are described. */
	f->files[2].data = f->moved;
	assert_int_equal(parse(f, good_json, &set), 0);
	assert_int_equal(fwimg_check_product(set, "fa.json", f->table, sizeof(f->table), 0x8000, 0x9000, 0x6000,
					     &f->err),
			 FWIMG_ECONFLICT);
	assert_non_null(strstr(f->err.msg, "fa.json: flash_files.0x8000: partition_table/partition-table.bin differs "
					   "from the product's table; image: [nvs 1/2 0xa000+0x6000; factory"));
	assert_non_null(strstr(f->err.msg, "product: [nvs 1/2 0x9000+0x6000; phy_init"));
	fwimg_set_unref(set);
	/* Not a table at all. */
	f->files[2].data = f->boot;
	f->files[2].len = sizeof(f->boot);
	assert_int_equal(parse(f, good_json, &set), 0);
	assert_int_equal(fwimg_check_product(set, "fa.json", f->table, sizeof(f->table), 0x8000, 0x9000, 0x6000,
					     &f->err),
			 FWIMG_ECONFLICT);
	assert_non_null(strstr(f->err.msg, "partition-table.bin is not a partition table"));
	fwimg_set_unref(set);
}

/* examples/lamp/firmware stays a valid set for examples/lamp/partitions.csv. */
static void test_fwimg_example_set_fits_lamp(void **state)
{
	struct fixture *f = *state;
	char path[4096], *csv;
	const char *slash = strrchr(__FILE__, '/');
	struct fwimg_set *set = NULL;
	uint8_t table[PART_TABLE_MAX_LEN];
	FILE *fp;
	long n;

	assert_non_null(slash);
	snprintf(path, sizeof(path), "%.*s/../../examples/lamp/partitions.csv", (int)(slash - __FILE__), __FILE__);
	assert_non_null(fp = fopen(path, "rb"));
	fseek(fp, 0, SEEK_END);
	n = ftell(fp);
	fseek(fp, 0, SEEK_SET);
	csv = calloc(1, (size_t)n + 1);
	assert_int_equal(fread(csv, 1, (size_t)n, fp), (size_t)n);
	fclose(fp);
	make_table(csv, table);
	free(csv);
	snprintf(path, sizeof(path), "%.*s/../../examples/lamp/firmware/flasher_args.json", (int)(slash - __FILE__),
		 __FILE__);
	assert_int_equal(fwimg_load(path, &set, &f->err), 0);
	assert_int_equal(set->n, 3);
	assert_string_equal(set->chip, "esp32s3");
	assert_int_equal(fwimg_check_product(set, path, table, sizeof(table), 0x8000, 0x9000, 0x6000, &f->err), 0);
	fwimg_set_unref(set);
}

static void test_fwimg_chip_names(void **state)
{
	(void)state;
	assert_true(fwimg_chip_equal("ESP32-S3", "esp32s3"));
	assert_true(fwimg_chip_equal("esp32", "ESP32"));
	assert_false(fwimg_chip_equal("ESP32", "esp32s3"));
	assert_false(fwimg_chip_equal("ESP32-C3", "esp32s3"));
	assert_false(fwimg_chip_equal("", "esp32"));
}

/* esptool would rewrite the bootloader header's mode and size with
 * flash_settings; espfab writes images as they are, so they must agree. */
static void test_fwimg_flash_settings_match_bootloader_header(void **state)
{
	struct fixture *f = *state;
	struct fwimg_set *set = NULL;
	char *j;

	f->boot[0] = 0xE9;
	f->boot[2] = 2;    /* dio */
	f->boot[3] = 0x1F; /* 2MB, 80m */
	assert_int_equal(parse(f, good_json, &set), 0);
	fwimg_set_unref(set);
	set = NULL;

	f->boot[2] = 0; /* qio */
	expect_fail(f, good_json, FWIMG_ECONFLICT, "flash_settings.flash_mode is dio", "says qio");
	f->boot[2] = 2;
	f->boot[3] = 0x2F; /* 4MB */
	expect_fail(f, good_json, FWIMG_ECONFLICT, "flash_settings.flash_size is 2MB", "says 4MB");
	/* decided when flashing: not checked */
	j = edit("\"flash_size\": \"2MB\"", "\"flash_size\": \"detect\"");
	assert_int_equal(parse(f, j, &set), 0);
	fwimg_set_unref(set);
	set = NULL;
	free(j);
	j = edit("\"flash_mode\": \"dio\"", "\"flash_mode\": \"fast\"");
	f->boot[3] = 0x1F;
	expect_fail(f, j, FWIMG_EINPUT, "flash_settings.flash_mode", "'fast'");
	free(j);
	/* not an image header (no 0xE9): esptool leaves it alone, so do we */
	f->boot[0] = 0x00;
	f->boot[2] = 0;
	assert_int_equal(parse(f, good_json, &set), 0);
	fwimg_set_unref(set);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_fwimg_parses_esp_idf_file, setup, teardown),
		cmocka_unit_test_setup_teardown(test_fwimg_missing_file_names_file_and_key, setup, teardown),
		cmocka_unit_test_setup_teardown(test_fwimg_load_reads_relative_to_json, setup, teardown),
		cmocka_unit_test_setup_teardown(test_fwimg_bad_offsets, setup, teardown),
		cmocka_unit_test_setup_teardown(test_fwimg_overlaps_refused, setup, teardown),
		cmocka_unit_test_setup_teardown(test_fwimg_encrypted_refused, setup, teardown),
		cmocka_unit_test_setup_teardown(test_fwimg_wrong_types, setup, teardown),
		cmocka_unit_test_setup_teardown(test_fwimg_empty_and_mismatched_images, setup, teardown),
		cmocka_unit_test_setup_teardown(test_fwimg_example_set_fits_lamp, setup, teardown),
		cmocka_unit_test_setup_teardown(test_fwimg_chip_names, setup, teardown),
		cmocka_unit_test_setup_teardown(test_fwimg_flash_settings_match_bootloader_header, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
