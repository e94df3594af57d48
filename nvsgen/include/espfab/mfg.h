/* Mass-manufacturing batches: a native port of ESP-IDF's
 * tools/mass_mfg/mfg_gen.py (esp-idf v6.0.2) on top of espfab/nvs.h.
 *
 * A CONFIG csv (namespace / key,type,encoding[,REPEAT] rows) and a VALUES csv
 * (a header of keys, one row per device) become, per device, the
 * intermediate CSV the reference writes (out/csv/PREFIX-ID.csv), an NVS image
 * (out/bin/PREFIX-ID.bin) and, with --keygen, a key file
 * (out/keys/keys-PREFIX-ID.bin). Images are built in memory by the nvsgen
 * generator; the intermediate CSVs are written for compatibility, never read
 * back.
 *
 * Two layers:
 *  - struct mfg_batch (pure, no I/O): parses and checks both texts the way
 *    the reference does, applies REPEAT, names every device, renders its
 *    CSV and builds its image.
 *  - mfg_generate() (file-level): reads the inputs, checks every device and
 *    builds every image before the first file is written, then writes all
 *    files; if writing fails half-way it removes every file (and directory)
 *    it created, so a run leaves either the whole set or nothing.
 */
#ifndef ESPFAB_MFG_H
#define ESPFAB_MFG_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "espfab/nvs.h"

enum mfg_error {
	MFG_OK = 0,
	MFG_EINPUT = -1,  /* bad config / values / option; message has file:line */
	MFG_ESIZE = -2,   /* partition size invalid, or a device's data does not fit */
	MFG_ENOMEM = -3,
	MFG_ECRYPTO = -4,
	MFG_EEXIST = -5,  /* an output file already exists */
	MFG_EIO = -6,     /* reading inputs or writing outputs failed */
	MFG_ECANCELED = -7, /* *cancel became non-zero: the files written so far were removed */
};

/* msg is one line, "FILE:LINE: reason" when a place is known; it names
 * keys and columns, never values. */
struct mfg_err {
	int code;      /* an enum mfg_error */
	unsigned line; /* line in the file named in msg, 0 if none */
	char msg[512];
};

/* ---- pure layer ---------------------------------------------------------- */

struct mfg_batch_params {
	const char *config_name; /* names used in messages */
	const char *values_name;
	const char *prefix;      /* file name prefix */
	const char *fileid;      /* values column naming each device, NULL/"" = 1, 2, 3... */
	bool prefix_num;         /* --prefix_num START DIGITS */
	long long prefix_start;
	int prefix_digits;
	bool keygen;             /* key file names are checked like the reference does */
};

struct mfg_batch;

/* Parse and check config and values (raw file bytes). On success *out is
 * owned by the caller (mfg_batch_free). The texts are copied. */
int mfg_batch_new(struct mfg_batch **out, const char *config, size_t config_len, const char *values,
		  size_t values_len, const struct mfg_batch_params *p, struct mfg_err *err);
void mfg_batch_free(struct mfg_batch *b);

size_t mfg_batch_count(const struct mfg_batch *b);
/* Device i's file name stem, e.g. "dev-1" or "unit-0007-1": the CSV is
 * STEM.csv, the image STEM.bin, the key file keys-STEM.bin (see
 * mfg_batch_keyfile). Valid until mfg_batch_free. */
const char *mfg_batch_stem(const struct mfg_batch *b, size_t i);
/* The key file name the reference derives for device i ("keys-STEM.bin"). */
const char *mfg_batch_keyfile(const struct mfg_batch *b, size_t i);
/* The values file line where device i's row starts. */
unsigned mfg_batch_line(const struct mfg_batch *b, size_t i);

/* Device i's intermediate CSV (as Python's csv.writer writes it: CRLF,
 * minimal quoting) into *buf, grown with realloc as needed (*cap bytes). */
int mfg_batch_csv(const struct mfg_batch *b, size_t i, char **buf, size_t *cap, size_t *len, struct mfg_err *err);

/* Device i's image through generator g (made for the batch's size and
 * version; it is reset first). `file` rows are read through files (NULL
 * refuses them). xts_key NULL for plain images. */
int mfg_batch_image(const struct mfg_batch *b, size_t i, struct nvs_gen *g, const struct nvs_file_source *files,
		    const uint8_t *xts_key, uint8_t *img, size_t cap, size_t *img_len, struct mfg_err *err);

/* Python int(text, 0) then nvs_partition_gen's size rules (multiple of
 * 4096, at least 4096). */
int mfg_parse_size(const char *text, uint32_t *size, struct mfg_err *err);

/* Python int(text) in base 10, as argparse's type=int (espfab/pyint.h:
 * spaces around, a sign, single underscores between digits, Unicode
 * digits). 0, or -1 if not a number or beyond long long. */
int mfg_parse_int(const char *text, long long *out);

/* ---- file level ---------------------------------------------------------- */

enum mfg_keys {
	MFG_KEYS_NONE,     /* plain images */
	MFG_KEYS_INPUT,    /* --inputkey FILE: every image with that key */
	MFG_KEYS_GENERATE, /* --keygen: a key file per device */
};

struct mfg_options {
	const char *config_path;
	const char *values_path;
	const char *prefix;
	const char *size;   /* as typed: "0x6000" */
	const char *outdir; /* NULL: current directory */
	const char *fileid; /* NULL: numeric ids */
	bool prefix_num;
	long long prefix_start;
	int prefix_digits;
	enum nvs_version version;
	enum mfg_keys keys;
	const char *inputkey;         /* MFG_KEYS_INPUT */
	bool key_protect_hmac;        /* MFG_KEYS_GENERATE: derive from an HMAC key */
	bool kp_hmac_keygen;          /* ... a new random HMAC key per device */
	const char *kp_hmac_inputkey; /* ... or this HMAC key for all devices */
	unsigned jobs; /* write threads; 0: one per CPU, at most 4 */
	/* Checked between files by every write thread (a signal handler may set
	 * it; lock-free atomics are signal-safe): the run stops, removes what it
	 * wrote and returns MFG_ECANCELED. NULL: never. */
	const atomic_int *cancel;
	/* Test seam: creates one output file (O_EXCL) in dirfd and writes it;
	 * called from several threads at once. NULL: the real one. Returns 0
	 * or a negative errno. */
	int (*write_file)(void *ctx, int dirfd, const char *name, const void *data, size_t len, unsigned mode);
	void *write_ctx;
};

struct mfg_result {
	size_t devices;       /* devices written */
	size_t bytes_written; /* all files */
};

/* The whole `mfg generate`. Relative paths (and `file` rows) are resolved
 * from the current directory, as the reference does. */
int mfg_generate(const struct mfg_options *o, struct mfg_result *res, struct mfg_err *err);

#endif
