/* libFuzzer: flasher_args.json as an ESP-IDF build (or anyone) writes it.
 * Images come from a loader that invents them from the file name (its
 * length and first byte pick the size, "missing" fails), so offsets, sizes,
 * overlaps and the product checks are all reached without touching a disk.
 * Checks what a successful parse promises: sorted, aligned, non-empty,
 * disjoint images within FWIMG_MAX_TOTAL, and a one-line message on error. */
#include <errno.h>
#include <espfab/fwimg.h>
#include <espfab/part.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int fake_load(void *ctx, const char *file, uint8_t **out, size_t *len)
{
	size_t n = strlen(file), sz;

	(void)ctx;
	if (strstr(file, "missing"))
		return -ENOENT;
	/* Small, so the fuzzer stays fast: 0 .. 12 KiB. */
	sz = ((size_t)(unsigned char)file[0] * 31 + n * 257) % (12 * 1024 + 1);
	*out = malloc(sz ? sz : 1);
	if (!*out)
		return -ENOMEM;
	memset(*out, (int)n, sz);
	*len = sz;
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static uint8_t table[PART_TABLE_MAX_LEN];
	static int have_table;
	struct fwimg_set *set = NULL;
	struct fwimg_err err;

	if (!have_table) {
		static const char csv[] = "nvs,data,nvs,0x9000,0x6000,\nfactory,app,factory,0x10000,1M,\n";
		struct part_table *t = NULL;
		struct part_opts o;
		struct part_err pe;
		part_opts_init(&o);
		if (part_csv_parse((const uint8_t *)csv, strlen(csv), &o, &t, &pe) || part_bin_write(t, &o, table, &pe))
			abort();
		part_table_free(t);
		have_table = 1;
	}
	memset(&err, 0, sizeof(err));
	if (fwimg_parse((const char *)data, size, "fuzz.json", fake_load, NULL, &set, &err)) {
		if (set || !err.msg[0] || strchr(err.msg, '\n'))
			abort();
		return 0;
	}
	uint64_t total = 0;
	for (size_t i = 0; i < set->n; i++) {
		const struct fwimg *im = &set->images[i];
		if (!im->len || im->offset % FWIMG_SECTOR || strlen(im->sha256) != 64)
			abort();
		if (i && (uint64_t)set->images[i - 1].offset + set->images[i - 1].len > im->offset)
			abort();
		total += im->len;
	}
	if (total != set->total || total > FWIMG_MAX_TOTAL)
		abort();
	memset(&err, 0, sizeof(err));
	if (fwimg_check_product(set, "fuzz.json", table, sizeof(table), 0x8000, 0x9000, 0x6000, &err) &&
	    (!err.msg[0] || strchr(err.msg, '\n')))
		abort();
	fwimg_set_unref(set);
	return 0;
}
