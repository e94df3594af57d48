/* mfg tests: the batch layer against mfg_gen.py's own outputs
 * (../shared/golden/mfg), the reference's checks as errors with file:line,
 * and mfg_generate()'s all-or-nothing file handling. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>
#include <stdatomic.h>

#include "espfab/mfg.h"
#include "espfab/nvs_decode.h"

#define GOLDEN ESPFAB_SHARED_DIR "/golden/mfg/"

static char *load(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	char *buf;
	long n;
	if (!f)
		fail_msg("cannot open %s", path);
	fseek(f, 0, SEEK_END);
	n = ftell(f);
	rewind(f);
	buf = malloc((size_t)n + 1);
	assert_non_null(buf);
	assert_int_equal(fread(buf, 1, (size_t)n, f), (size_t)n);
	buf[n] = '\0';
	fclose(f);
	*len = (size_t)n;
	return buf;
}

static struct mfg_batch *batch_from(const char *config, const char *values, const struct mfg_batch_params *p)
{
	struct mfg_batch *b = NULL;
	struct mfg_err err;
	int rc = mfg_batch_new(&b, config, strlen(config), values, strlen(values), p, &err);
	if (rc)
		fail_msg("mfg_batch_new: %s", err.msg);
	return b;
}

static struct mfg_batch *batch_golden(const char *name, const struct mfg_batch_params *p)
{
	char path[512];
	size_t cl, vl;
	char *c, *v;
	struct mfg_batch *b;
	snprintf(path, sizeof(path), GOLDEN "%s/config.csv", name);
	c = load(path, &cl);
	snprintf(path, sizeof(path), GOLDEN "%s/values.csv", name);
	v = load(path, &vl);
	b = batch_from(c, v, p);
	free(c);
	free(v);
	return b;
}

static int batch_error(const char *config, const char *values, const struct mfg_batch_params *p,
		       struct mfg_err *err)
{
	struct mfg_batch *b = NULL;
	int rc = mfg_batch_new(&b, config, strlen(config), values, strlen(values), p, err);
	assert_null(b);
	return rc;
}

/* The CSV and image of device i must equal the golden files. */
static void expect_device(const struct mfg_batch *b, size_t i, const char *golden_case, const uint8_t *key,
			  uint32_t size, enum nvs_version version, const char *files_dir)
{
	char path[512], *csv = NULL, *want;
	size_t cap = 0, len, wlen, img_len;
	uint8_t *img = malloc(size);
	struct nvs_gen *g = NULL;
	struct nvs_err nerr;
	struct mfg_err err;
	struct nvs_file_source fs;

	assert_non_null(img);
	assert_int_equal(mfg_batch_csv(b, i, &csv, &cap, &len, &err), 0);
	snprintf(path, sizeof(path), GOLDEN "%s/out/csv/%s.csv", golden_case, mfg_batch_stem(b, i));
	want = load(path, &wlen);
	assert_int_equal(len, wlen);
	assert_memory_equal(csv, want, wlen);
	free(want);

	assert_int_equal(nvs_gen_new(&g, size, version, &nerr), 0);
	nvs_file_source_init(&fs, files_dir);
	if (mfg_batch_image(b, i, g, &fs, key, img, size, &img_len, &err))
		fail_msg("image: %s", err.msg);
	snprintf(path, sizeof(path), GOLDEN "%s/out/bin/%s.bin", golden_case, mfg_batch_stem(b, i));
	want = load(path, &wlen);
	assert_int_equal(img_len, wlen);
	assert_memory_equal(img, want, wlen);
	free(want);
	nvs_gen_free(g);
	free(img);
	free(csv);
}

static void test_mfg_basic_matches_reference(void **state)
{
	struct mfg_batch_params p = {.config_name = "config.csv", .values_name = "values.csv", .prefix = "dev"};
	struct mfg_batch *b = batch_golden("001-basic", &p);
	(void)state;
	assert_int_equal(mfg_batch_count(b), 3);
	assert_string_equal(mfg_batch_stem(b, 0), "dev-1");
	assert_string_equal(mfg_batch_stem(b, 2), "dev-3");
	assert_string_equal(mfg_batch_keyfile(b, 1), "keys-dev-2.bin");
	assert_int_equal(mfg_batch_line(b, 1), 3);
	for (size_t i = 0; i < 3; i++)
		expect_device(b, i, "001-basic", NULL, 0x6000, NVS_VERSION_2, NULL);
	assert_null(mfg_batch_stem(b, 3));
	mfg_batch_free(b);
}

static void test_mfg_repeat_fileid_and_files(void **state)
{
	struct mfg_batch_params p = {
		.config_name = "config.csv", .values_name = "values.csv", .prefix = "fab", .fileid = "serial"};
	struct mfg_batch *b = batch_golden("002-repeat-fileid", &p);
	char *csv = NULL;
	size_t cap = 0, len;
	struct mfg_err err;
	(void)state;
	assert_int_equal(mfg_batch_count(b), 2);
	assert_string_equal(mfg_batch_stem(b, 0), "fab-SN1001");
	assert_string_equal(mfg_batch_stem(b, 1), "fab-SN1002");
	/* the second row left model and hwrev empty: REPEAT fills them */
	assert_int_equal(mfg_batch_csv(b, 1, &csv, &cap, &len, &err), 0);
	assert_non_null(strstr(csv, "model,data,string,ESP32-LAMP\r\nhwrev,data,u8,3\r\n"));
	free(csv);
	for (size_t i = 0; i < 2; i++)
		expect_device(b, i, "002-repeat-fileid", NULL, 0x6000, NVS_VERSION_2, GOLDEN "002-repeat-fileid");
	mfg_batch_free(b);
}

static void test_mfg_prefix_num_v1_and_encrypted(void **state)
{
	struct mfg_batch_params p = {.config_name = "config.csv",
				     .values_name = "values.csv",
				     .prefix = "unit",
				     .prefix_num = true,
				     .prefix_start = 7,
				     .prefix_digits = 4};
	struct mfg_batch *b = batch_golden("003-prefix-num", &p);
	size_t klen;
	char *key;
	(void)state;
	assert_string_equal(mfg_batch_stem(b, 0), "unit-0007-1");
	assert_string_equal(mfg_batch_stem(b, 2), "unit-0009-3");
	for (size_t i = 0; i < 3; i++)
		expect_device(b, i, "003-prefix-num", NULL, 0x3000, NVS_VERSION_2, NULL);
	mfg_batch_free(b);

	memset(&p, 0, sizeof(p));
	p.config_name = "config.csv";
	p.values_name = "values.csv";
	p.prefix = "v1";
	b = batch_golden("005-v1", &p);
	for (size_t i = 0; i < 3; i++)
		expect_device(b, i, "005-v1", NULL, 0x4000, NVS_VERSION_1, NULL);
	mfg_batch_free(b);

	p.prefix = "sec";
	b = batch_golden("004-encrypted-inputkey", &p);
	key = load(GOLDEN "004-encrypted-inputkey/nvs_keys.bin", &klen);
	for (size_t i = 0; i < 3; i++)
		expect_device(b, i, "004-encrypted-inputkey", (const uint8_t *)key, 0x6000, NVS_VERSION_2, NULL);
	free(key);
	mfg_batch_free(b);
}

static void test_mfg_reference_quirks(void **state)
{
	/* Blank and whitespace-only lines are dropped (strip_blank_lines), CRLF
	 * is read as LF, and line numbers in errors are the original ones. */
	static const char config[] = "ns,namespace,\r\n\r\n   \r\na,data,u8\r\nb,data,string\r\n";
	static const char values[] = "a,b\n\n1,x\n \t\n2,\"q,\"\"u\"\"\"\n";
	struct mfg_batch_params p = {.config_name = "c.csv", .values_name = "v.csv", .prefix = "p"};
	struct mfg_batch *b = batch_from(config, values, &p);
	char *csv = NULL;
	size_t cap = 0, len;
	struct mfg_err err;
	(void)state;
	assert_int_equal(mfg_batch_count(b), 2);
	assert_int_equal(mfg_batch_line(b, 0), 3);
	assert_int_equal(mfg_batch_line(b, 1), 5);
	/* csv.writer: CRLF, quotes only where needed, doubled quotes */
	assert_int_equal(mfg_batch_csv(b, 1, &csv, &cap, &len, &err), 0);
	assert_string_equal(csv, "key,type,encoding,value\r\nns,namespace,,\r\na,data,u8,2\r\n"
				 "b,data,string,\"q,\"\"u\"\"\"\r\n");
	free(csv);
	mfg_batch_free(b);

	/* A value equal to a later key name is taken for that key: the
	 * reference's `key in (column, value)` test. */
	b = batch_from("ns,namespace,\na,data,string\nc,data,string\n", "a,b,c\nv,c,w\n", &p);
	csv = NULL;
	cap = 0;
	assert_int_equal(mfg_batch_csv(b, 0, &csv, &cap, &len, &err), 0);
	assert_non_null(strstr(csv, "\r\nc,data,string,c\r\n"));
	free(csv);
	mfg_batch_free(b);
}

static void test_mfg_rejects_with_file_and_line(void **state)
{
	struct mfg_batch_params p = {.config_name = "c.csv", .values_name = "v.csv", .prefix = "p"};
	struct mfg_err err;
	(void)state;
	p.fileid = "nosuch";
	assert_int_equal(batch_error("ns,namespace,\na,data,u8\n", "a\n1\n", &p, &err), MFG_EINPUT);
	assert_non_null(strstr(err.msg, "v.csv:1: --fileid column 'nosuch'"));
	p.fileid = NULL;

	assert_int_equal(batch_error("ns,namespace,\n\na,data,u9\n", "a\n1\n", &p, &err), MFG_EINPUT);
	assert_non_null(strstr(err.msg, "c.csv:3: invalid encoding 'u9'"));
	assert_int_equal(err.line, 3);
	/* i16 is not among mfg_gen.py's encodings */
	assert_int_equal(batch_error("ns,namespace,\na,data,i16\n", "a\n1\n", &p, &err), MFG_EINPUT);
	assert_int_equal(batch_error("ns,namespace,\na,blob,u8\n", "a\n1\n", &p, &err), MFG_EINPUT);
	assert_non_null(strstr(err.msg, "c.csv:2: invalid type 'blob'"));
	assert_int_equal(batch_error("ns,namespace\na,data,u8\n", "a\n1\n", &p, &err), MFG_EINPUT);
	assert_non_null(strstr(err.msg, "c.csv:1: 2 fields"));
	/* keys must be columns, in config order */
	assert_int_equal(batch_error("ns,namespace,\na,data,u8\nb,data,u8\n", "b,a\n1,2\n", &p, &err), MFG_EINPUT);
	assert_non_null(strstr(err.msg, "c.csv:2: key 'a' is not a column"));
	assert_int_equal(batch_error("ns,namespace,\na,data,u8\n", "a,b\n1,2\n3\n", &p, &err), MFG_EINPUT);
	assert_non_null(strstr(err.msg, "v.csv:3: 1 values for 2 columns"));
	/* same file name twice */
	p.fileid = "id";
	assert_int_equal(batch_error("ns,namespace,\na,data,u8\n", "id,a\nx,1\ny,2\nx,3\n", &p, &err), MFG_EINPUT);
	assert_non_null(strstr(err.msg, "v.csv:4: device file name 'p-x' repeats line 2"));
	assert_int_equal(batch_error("ns,namespace,\na,data,u8\n", "id,a\n../x,1\n", &p, &err), MFG_EINPUT);
	assert_non_null(strstr(err.msg, "v.csv:2: file id"));
	p.fileid = NULL;
	/* REPEAT reads a first row */
	assert_int_equal(batch_error("ns,namespace,\na,data,u8,REPEAT\n", "a\n", &p, &err), MFG_EINPUT);
	assert_int_equal(batch_error("", "a\n1\n", &p, &err), MFG_EINPUT);
	assert_non_null(strstr(err.msg, "c.csv: file is empty"));
	assert_int_equal(batch_error("ns,namespace,\na,data,u8\n", "a\n\xff\n", &p, &err), MFG_EINPUT);
	assert_non_null(strstr(err.msg, "v.csv:2: not valid UTF-8"));
}

static void test_mfg_bad_value_names_row(void **state)
{
	struct mfg_batch_params p = {.config_name = "c.csv", .values_name = "v.csv", .prefix = "p"};
	struct mfg_batch *b = batch_from("ns,namespace,\na,data,u8\n", "a\n1\n\n300\n", &p);
	struct nvs_gen *g = NULL;
	struct nvs_err nerr;
	struct mfg_err err;
	uint8_t img[0x3000];
	size_t len;
	(void)state;
	assert_int_equal(nvs_gen_new(&g, sizeof(img), NVS_VERSION_2, &nerr), 0);
	assert_int_equal(mfg_batch_image(b, 0, g, NULL, NULL, img, sizeof(img), &len, &err), 0);
	assert_int_not_equal(mfg_batch_image(b, 1, g, NULL, NULL, img, sizeof(img), &len, &err), 0);
	assert_non_null(strstr(err.msg, "v.csv:4:"));
	assert_int_equal(err.line, 4);
	nvs_gen_free(g);
	mfg_batch_free(b);
}

static void test_mfg_parse_size_and_int(void **state)
{
	uint32_t size;
	long long v;
	struct mfg_err err;
	(void)state;
	assert_int_equal(mfg_parse_size("0x6000", &size, &err), 0);
	assert_int_equal(size, 0x6000);
	assert_int_equal(mfg_parse_size("24576", &size, &err), 0);
	assert_int_equal(size, 24576);
	assert_int_equal(mfg_parse_size("0x6001", &size, &err), MFG_ESIZE);
	assert_int_equal(mfg_parse_size("0", &size, &err), MFG_ESIZE);
	assert_int_equal(mfg_parse_size("six", &size, &err), MFG_ESIZE);
	assert_int_equal(mfg_parse_int(" +1_0 ", &v), 0);
	assert_int_equal(v, 10);
	assert_int_equal(mfg_parse_int("-3", &v), 0);
	assert_int_equal(v, -3);
	assert_int_equal(mfg_parse_int("1__0", &v), -1);
	assert_int_equal(mfg_parse_int("0x10", &v), -1);
	assert_int_equal(mfg_parse_int("", &v), -1);
}

/* ---- mfg_generate() in a scratch folder --------------------------------- */

static char scratch[256];

static int setup_scratch(void **state)
{
	(void)state;
	snprintf(scratch, sizeof(scratch), "/tmp/test_mfg.XXXXXX");
	if (!mkdtemp(scratch))
		return -1;
	return 0;
}

static int teardown_scratch(void **state)
{
	char cmd[512];
	(void)state;
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", scratch);
	return system(cmd) == 0 ? 0 : -1;
}

static void put(const char *name, const char *text)
{
	char path[512];
	FILE *f;
	snprintf(path, sizeof(path), "%s/%s", scratch, name);
	f = fopen(path, "wb");
	assert_non_null(f);
	fputs(text, f);
	fclose(f);
}

/* Files under dir, counted recursively. */
static int count_files(const char *dir)
{
	DIR *d = opendir(dir);
	struct dirent *e;
	int n = 0;
	if (!d)
		return 0;
	while ((e = readdir(d))) {
		char p[1024];
		struct stat st;
		if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
			continue;
		snprintf(p, sizeof(p), "%s/%s", dir, e->d_name);
		if (lstat(p, &st) == 0)
			n += S_ISDIR(st.st_mode) ? count_files(p) : 1;
	}
	closedir(d);
	return n;
}

static void scratch_path(char *out, size_t cap, const char *name)
{
	snprintf(out, cap, "%s/%s", scratch, name);
}

/* The options the mfg_generate tests share: config.csv and values.csv in the
 * scratch folder, output to outdir_name there, 0x3000 bytes, NVS v2. */
static void gen_options(struct mfg_options *o, char config[512], char values[512], char outdir[512],
			const char *prefix, const char *outdir_name)
{
	scratch_path(config, 512, "config.csv");
	scratch_path(values, 512, "values.csv");
	scratch_path(outdir, 512, outdir_name);
	o->config_path = config;
	o->values_path = values;
	o->prefix = prefix;
	o->size = "0x3000";
	o->outdir = outdir;
	o->version = NVS_VERSION_2;
}

static void test_mfg_generate_writes_the_set(void **state)
{
	char config[512], values[512], outdir[512], bin[600];
	struct mfg_options o = {0};
	struct mfg_result res;
	struct mfg_err err;
	struct nvs_decode *d = NULL;
	struct nvs_err nerr;
	size_t len;
	char *img;
	(void)state;
	put("config.csv", "mass_prod,namespace,\nProductID,data,string\nDeviceSecret,data,string\n");
	put("values.csv", "id,ProductID,DeviceSecret\n1,PRD-1,s3cret-1\n2,PRD-2,s3cret-2\n");
	gen_options(&o, config, values, outdir, "dev", "out/deeper");
	o.keys = MFG_KEYS_GENERATE;
	if (mfg_generate(&o, &res, &err))
		fail_msg("%s", err.msg);
	assert_int_equal(res.devices, 2);
	assert_int_equal(count_files(outdir), 6);
	/* the image decodes with its own key file */
	snprintf(bin, sizeof(bin), "%s/bin/dev-2.bin", outdir);
	img = load(bin, &len);
	{
		char kpath[600];
		size_t klen;
		char *key;
		struct stat st;
		snprintf(kpath, sizeof(kpath), "%s/keys/keys-dev-2.bin", outdir);
		key = load(kpath, &klen);
		assert_int_equal(klen, 4096);
		assert_int_equal(stat(kpath, &st), 0);
		assert_int_equal(st.st_mode & 077, 0); /* key files are private */
		assert_int_equal(nvs_decode_image((const uint8_t *)img, len, (const uint8_t *)key, &d, &nerr), 0);
		assert_int_equal(d->problem_count, 0);
		assert_memory_equal(nvs_decode_find(d, "mass_prod", "DeviceSecret")->data, "s3cret-2", 9);
		nvs_decode_free(d);
		free(key);
	}
	free(img);
	/* a second run refuses: the files exist; nothing changes */
	assert_int_equal(mfg_generate(&o, &res, &err), MFG_EEXIST);
	assert_non_null(strstr(err.msg, "already exists"));
	assert_int_equal(count_files(outdir), 6);
}

/* The reference grows a page by (bytes - characters) when a multibyte key
 * lands in a page's last slot, so its plain image is longer than the
 * partition; mfg must size its buffer for that, as nvs_gen_image_len() does. */
static void test_mfg_generate_grown_last_slot_key(void **state)
{
	char config[512], values[512], outdir[512], bin[600];
	struct mfg_options o = {0};
	struct mfg_result res;
	struct mfg_err err;
	size_t len, off = 0, voff = 0;
	char *cfg = calloc(1, 8192), *val = calloc(1, 8192), *img;
	(void)state;
	assert_non_null(cfg);
	assert_non_null(val);
	/* namespace entry in slot 0, 124 u8 in slots 1..124, the 5-character,
	 * 10-byte key in slot 125: the page grows by 5 bytes */
	off += (size_t)snprintf(cfg + off, 8192 - off, "ns,namespace,\n");
	voff += (size_t)snprintf(val + voff, 8192 - voff, "id");
	for (int i = 0; i < 124; i++) {
		off += (size_t)snprintf(cfg + off, 8192 - off, "k%d,data,u8\n", i);
		voff += (size_t)snprintf(val + voff, 8192 - voff, ",k%d", i);
	}
	off += (size_t)snprintf(cfg + off, 8192 - off, "\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9,data,u8\n");
	voff += (size_t)snprintf(val + voff, 8192 - voff, ",\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\n1");
	for (int i = 0; i < 125; i++)
		voff += (size_t)snprintf(val + voff, 8192 - voff, ",7");
	snprintf(val + voff, 8192 - voff, "\n");
	put("config.csv", cfg);
	put("values.csv", val);
	free(cfg);
	free(val);
	gen_options(&o, config, values, outdir, "t", "out");
	if (mfg_generate(&o, &res, &err))
		fail_msg("%s", err.msg);
	snprintf(bin, sizeof(bin), "%s/bin/t-1.bin", outdir);
	img = load(bin, &len);
	assert_int_equal(len, 0x3000 + 5);
	free(img);
}

static void test_mfg_generate_bad_row_leaves_nothing(void **state)
{
	char config[512], values[512], outdir[512];
	struct mfg_options o = {0};
	struct mfg_result res;
	struct mfg_err err;
	struct stat st;
	(void)state;
	put("config.csv", "ns,namespace,\nn,data,u8\n");
	put("values.csv", "n\n1\n2\n256\n4\n");
	gen_options(&o, config, values, outdir, "dev", "out");
	assert_int_equal(mfg_generate(&o, &res, &err), MFG_EINPUT);
	assert_non_null(strstr(err.msg, "values.csv:4:"));
	assert_int_not_equal(stat(outdir, &st), 0); /* not even the folder */
}

/* The write seam runs on several threads at once. */
struct fail_after {
	atomic_int calls;
	int fail_at;
	atomic_int *cancel_flag; /* set instead of failing */
};

static int failing_write(void *ctx, int dirfd, const char *name, const void *data, size_t len, unsigned mode)
{
	struct fail_after *f = ctx;
	int fd;
	if (atomic_fetch_add(&f->calls, 1) + 1 == f->fail_at) {
		if (!f->cancel_flag)
			return -ENOSPC;
		atomic_store(f->cancel_flag, 1);
	}
	fd = openat(dirfd, name, O_WRONLY | O_CREAT | O_EXCL, (mode_t)mode);
	if (fd < 0)
		return -errno;
	if (write(fd, data, len) != (ssize_t)len) {
		close(fd);
		return -EIO;
	}
	close(fd);
	return 0;
}

static void test_mfg_generate_rolls_back_a_failed_write(void **state)
{
	char config[512], values[512], outdir[512], keep[600], line[600];
	struct mfg_options o = {0};
	struct mfg_result res;
	struct mfg_err err;
	struct fail_after fa = {0, 0, NULL};
	struct stat st;
	FILE *f;
	(void)state;
	put("config.csv", "ns,namespace,\nn,data,u8\n");
	f = fopen((snprintf(values, sizeof(values), "%s/values.csv", scratch), values), "w");
	assert_non_null(f);
	fputs("n\n", f);
	for (int i = 0; i < 600; i++)
		fprintf(f, "%d\n", i % 200);
	fclose(f);
	gen_options(&o, config, values, outdir, "dev", "out");
	/* a file that was there before must survive the rollback */
	assert_int_equal(mkdir(outdir, 0777), 0);
	snprintf(keep, sizeof(keep), "%s/keep.txt", outdir);
	put("out/keep.txt", "mine");
	o.write_file = failing_write;
	o.write_ctx = &fa;
	fa.fail_at = 777; /* half-way: the disk fills up */
	assert_int_equal(mfg_generate(&o, &res, &err), MFG_EIO);
	assert_non_null(strstr(err.msg, strerror(ENOSPC)));
	assert_true(atomic_load(&fa.calls) >= 777);
	assert_int_equal(count_files(outdir), 1);
	assert_int_equal(stat(keep, &st), 0);
	snprintf(line, sizeof(line), "%s/csv", outdir);
	assert_int_not_equal(stat(line, &st), 0);
	/* interrupted half-way (Ctrl-C): the same clean-up */
	{
		static atomic_int cancel;
		struct fail_after fc = {0, 500, &cancel};
		o.write_ctx = &fc;
		o.cancel = &cancel;
		assert_int_equal(mfg_generate(&o, &res, &err), MFG_ECANCELED);
		assert_int_equal(count_files(outdir), 1);
		o.cancel = NULL;
	}
	/* and the same run without the fault writes all 1200 files */
	o.write_file = NULL;
	if (mfg_generate(&o, &res, &err))
		fail_msg("%s", err.msg);
	assert_int_equal(res.devices, 600);
	assert_int_equal(count_files(outdir), 1201);
	/* written by several threads, each image still holds its own row */
	for (int dev = 1; dev <= 600; dev += 157) {
		char bin[700];
		size_t len;
		uint8_t *img;
		struct nvs_decode *d = NULL;
		struct nvs_err nerr;
		snprintf(bin, sizeof(bin), "%s/bin/dev-%d.bin", outdir, dev);
		img = (uint8_t *)load(bin, &len);
		assert_int_equal(len, 0x3000);
		assert_int_equal(nvs_decode_image(img, len, NULL, &d, &nerr), 0);
		assert_int_equal(d->problem_count, 0);
		assert_int_equal(nvs_decode_find(d, "ns", "n")->u, (unsigned)((dev - 1) % 200));
		nvs_decode_free(d);
		free(img);
	}
}

/* ---- the espfab command ------------------------------------------------- */

static int run(const char *cmd)
{
	int st = system(cmd);
	return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

static void test_mfg_cli_generate_key_hmac(void **state)
{
	/* generate-key with an HMAC key gives the reference's key file bytes */
	char cmd[2048], path[600];
	size_t a, b;
	char *got, *want;
	(void)state;
	snprintf(cmd, sizeof(cmd),
		 "cd '%s' && '" ESPFAB_BIN_DIR "/espfab' mfg generate-key --key_protect_hmac --kp_hmac_inputkey "
		 "'" ESPFAB_SHARED_DIR "/golden/nvs/097-enc-generate-key-hmac-noext/hmac_key.bin' --keyfile mykeys "
		 ">/dev/null",
		 scratch);
	assert_int_equal(run(cmd), 0);
	snprintf(path, sizeof(path), "%s/keys/mykeys.bin", scratch);
	got = load(path, &a);
	want = load(ESPFAB_SHARED_DIR "/golden/nvs/097-enc-generate-key-hmac-noext/keys/mykeys.bin", &b);
	assert_int_equal(a, b);
	assert_memory_equal(got, want, b);
	free(got);
	free(want);
	/* without an HMAC key input: refused, nothing written */
	snprintf(cmd, sizeof(cmd),
		 "cd '%s' && '" ESPFAB_BIN_DIR "/espfab' mfg generate-key --key_protect_hmac --keyfile k2 2>/dev/null",
		 scratch);
	assert_int_equal(run(cmd), 1);
	snprintf(path, sizeof(path), "%s/keys/k2.bin", scratch);
	assert_int_equal(access(path, F_OK), -1);
	/* a random key file: 64 bytes, CRC, 0xFF padding */
	snprintf(cmd, sizeof(cmd), "cd '%s' && '" ESPFAB_BIN_DIR "/espfab' mfg generate-key --keyf=rnd >/dev/null",
		 scratch);
	assert_int_equal(run(cmd), 0);
	snprintf(path, sizeof(path), "%s/keys/rnd.bin", scratch);
	got = load(path, &a);
	assert_int_equal(a, 4096);
	assert_int_equal((unsigned char)got[4095], 0xFF);
	free(got);
}

static void test_mfg_cli_usage_errors(void **state)
{
	char cmd[1024];
	(void)state;
	snprintf(cmd, sizeof(cmd), "cd '%s' && '" ESPFAB_BIN_DIR "/espfab' mfg generate a.csv 2>/dev/null", scratch);
	assert_int_equal(run(cmd), 2);
	snprintf(cmd, sizeof(cmd),
		 "cd '%s' && '" ESPFAB_BIN_DIR "/espfab' mfg generate c.csv v.csv p 0x3000 --keygen --inputkey k.bin "
		 "2>/dev/null",
		 scratch);
	assert_int_equal(run(cmd), 2);
	snprintf(cmd, sizeof(cmd), "cd '%s' && '" ESPFAB_BIN_DIR "/espfab' mfg generate c.txt v.csv p 0x3000 2>/dev/null",
		 scratch);
	assert_int_equal(run(cmd), 1);
	snprintf(cmd, sizeof(cmd), "cd '%s' && '" ESPFAB_BIN_DIR "/espfab' mfg frobnicate 2>/dev/null", scratch);
	assert_int_equal(run(cmd), 2);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_mfg_basic_matches_reference),
		cmocka_unit_test(test_mfg_repeat_fileid_and_files),
		cmocka_unit_test(test_mfg_prefix_num_v1_and_encrypted),
		cmocka_unit_test(test_mfg_reference_quirks),
		cmocka_unit_test(test_mfg_rejects_with_file_and_line),
		cmocka_unit_test(test_mfg_bad_value_names_row),
		cmocka_unit_test(test_mfg_parse_size_and_int),
		cmocka_unit_test_setup_teardown(test_mfg_generate_writes_the_set, setup_scratch, teardown_scratch),
		cmocka_unit_test_setup_teardown(test_mfg_generate_grown_last_slot_key, setup_scratch, teardown_scratch),
		cmocka_unit_test_setup_teardown(test_mfg_generate_bad_row_leaves_nothing, setup_scratch,
						teardown_scratch),
		cmocka_unit_test_setup_teardown(test_mfg_generate_rolls_back_a_failed_write, setup_scratch,
						teardown_scratch),
		cmocka_unit_test_setup_teardown(test_mfg_cli_generate_key_hmac, setup_scratch, teardown_scratch),
		cmocka_unit_test_setup_teardown(test_mfg_cli_usage_errors, setup_scratch, teardown_scratch),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
