/* Mass-manufacturing batches, file level (see espfab/mfg.h).
 *
 * All or nothing. The reference writes device by device and stops at the
 * first bad row, leaving the devices before it on disk (and its *_tmp.csv
 * scratch copies next to the inputs). Here pass 1 checks every row, every
 * output name and builds every image in memory before anything is created;
 * pass 2 writes. If pass 2 fails (disk full, permissions), every file and
 * directory this run created is removed, so a failed batch of 100,000
 * devices leaves nothing behind and can simply be rerun. Files that existed
 * before the run are never touched: an existing output name is refused in
 * pass 1 (the reference refuses it too, half-way through).
 */
#include <errno.h>
#include <limits.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/crypto.h>

#include "espfab/fsu.h"
#include "espfab/mfg.h"
#include "mfg_io_int.h"
#include "mfg_priv.h"

/* The per-run state of mfg_generate(). */
struct run {
	const struct mfg_options *o;
	struct mfg_batch *b;
	struct file_cache cache;
	struct nvs_file_source files;
	uint32_t size;
	/* Image buffer size: like the reference, a plain image may be a few
	 * bytes longer than the partition (a multibyte key in a page's last
	 * slot grows that page by bytes - characters, at most 15 - 1). */
	size_t img_cap;
	uint8_t input_key[NVS_XTS_KEY_LEN]; /* --inputkey, or the HMAC-derived key */
	bool have_key;
	char *dir_csv, *dir_bin, *dir_keys;
	struct created cr;
	/* per device, what pass 2 created: the CSV (written by one thread) and
	 * the CUR_* bits of image and keys (by another, maybe) */
	uint8_t *made_csv, *made_bin;
	/* next device whose CSV / image is to be written: workers take work
	 * from their own queue first, so that two threads creating files in
	 * one folder (and waiting on its lock) is the exception */
	atomic_size_t next_csv, next_bin;
	int (*write)(void *ctx, int dirfd, const char *name, const void *data, size_t len, unsigned mode);
	atomic_bool stop;     /* a worker failed: the others stop */
	pthread_mutex_t lock; /* the first error */
	int rc;
	struct mfg_err err;
};

/* One thread's tools: a generator and buffers of its own. */
struct worker {
	struct run *r;
	struct nvs_gen *g;
	uint8_t *img;
	char *csv;
	size_t csv_cap;
	bool images_first; /* which queue this worker prefers */
	size_t bytes;
	pthread_t thread;
	bool started;
};

/* Pass 2 runs on up to this many threads: file creation is the cost, and
 * the csv/, bin/ and keys/ folders each take the inode lock in turn. */
#define MFG_MAX_WORKERS 4
#define MFG_MIN_PER_WORKER 128

#define CUR_CSV 1u
#define CUR_HMAC 2u
#define CUR_KEY 4u
#define CUR_BIN 8u

/* dir NULL: the folder does not exist, only the name length is checked. */
static int check_exists(const char *dir, const char *name, const char *ext, const char *what, unsigned line,
			const struct mfg_options *o, struct mfg_err *err)
{
	char path[4096];
	struct stat st;
	if (strlen(name) + strlen(ext) > NAME_MAX)
		return mfg_fail(err, MFG_EINPUT, line, "%s:%u: %s file name %.40s...%s is longer than %d bytes",
			       o->values_path, line, what, name, ext, NAME_MAX);
	if (!dir)
		return 0;
	if ((size_t)snprintf(path, sizeof(path), "%s/%s%s", dir, name, ext) >= sizeof(path))
		return mfg_fail(err, MFG_EINPUT, line, "%s:%u: output path too long", o->values_path, line);
	if (lstat(path, &st) == 0)
		return mfg_fail(err, MFG_EEXIST, line, "%s:%u: target %s file %s already exists", o->values_path, line,
			       what, path);
	return 0;
}

/* Pass 1: every device's image is built (plain: encryption cannot fail on
 * data) and every output name is checked before a file is created. */
static int pass_check(struct run *r, struct worker *w, struct mfg_err *err)
{
	size_t n = mfg_batch_count(r->b), len;
	bool keys = r->o->keys == MFG_KEYS_GENERATE;
	struct stat st;
	/* A folder that does not exist yet holds no file to collide with: a
	 * fresh batch skips the per-file checks (only the name length counts). */
	const char *dcsv = stat(r->dir_csv, &st) == 0 ? r->dir_csv : NULL;
	const char *dbin = stat(r->dir_bin, &st) == 0 ? r->dir_bin : NULL;
	const char *dkeys = keys && stat(r->dir_keys, &st) == 0 ? r->dir_keys : NULL;
	int rc;

	for (size_t i = 0; i < n; i++) {
		const char *stem = mfg_batch_stem(r->b, i);
		unsigned line = mfg_batch_line(r->b, i);
		if ((rc = check_exists(dcsv, stem, ".csv", "csv", line, r->o, err)) ||
		    (rc = check_exists(dbin, stem, ".bin", "binary", line, r->o, err)))
			return rc;
		if (keys && (rc = check_exists(dkeys, mfg_batch_keyfile(r->b, i), "", "key", line, r->o, err)))
			return rc;
		if (keys && r->o->kp_hmac_keygen) {
			char hname[600];
			snprintf(hname, sizeof(hname), "hmac-%s", mfg_batch_keyfile(r->b, i));
			if ((rc = check_exists(dkeys, hname, "", "HMAC key", line, r->o, err)))
				return rc;
		}
		if ((rc = mfg_batch_image(r->b, i, w->g, &r->files, NULL, w->img, r->img_cap, &len, err)))
			return rc;
	}
	return 0;
}

/* Remove what this run created (recorded per device in made[]), then the
 * directories it made. */
static void rollback(struct run *r)
{
	for (size_t i = 0; r->made_csv && r->made_bin && i < mfg_batch_count(r->b); i++) {
		const char *stem = mfg_batch_stem(r->b, i);
		unsigned made = r->made_bin[i] | (r->made_csv[i] ? CUR_CSV : 0);
		char name[640];
		if (made & CUR_CSV) {
			snprintf(name, sizeof(name), "%s.csv", stem);
			unlinkat(r->cr.dfd[0], name, 0);
		}
		if (made & CUR_BIN) {
			snprintf(name, sizeof(name), "%s.bin", stem);
			unlinkat(r->cr.dfd[1], name, 0);
		}
		if (made & CUR_KEY)
			unlinkat(r->cr.dfd[2], mfg_batch_keyfile(r->b, i), 0);
		if (made & CUR_HMAC) {
			snprintf(name, sizeof(name), "hmac-%s", mfg_batch_keyfile(r->b, i));
			unlinkat(r->cr.dfd[2], name, 0);
		}
	}
	for (int d = r->cr.ndirs - 1; d >= 0; d--)
		rmdir(r->cr.dirs[d]);
}

static int write_csv(struct worker *w, size_t i, struct mfg_err *err)
{
	struct run *r = w->r;
	char name[640];
	size_t csv_len;
	int rc;

	if ((rc = mfg_batch_csv(r->b, i, &w->csv, &w->csv_cap, &csv_len, err)))
		return rc;
	snprintf(name, sizeof(name), "%s.csv", mfg_batch_stem(r->b, i));
	if ((rc = r->write(r->o->write_ctx, r->cr.dfd[0], name, w->csv, csv_len, 0666)))
		return mfg_fail(err, MFG_EIO, mfg_batch_line(r->b, i), "%s/%s: %s", r->dir_csv, name, strerror(-rc));
	r->made_csv[i] = 1;
	w->bytes += csv_len;
	return 0;
}

/* The image of device i, with its key file(s) when --keygen. */
static int write_image(struct worker *w, size_t i, struct mfg_err *err)
{
	struct run *r = w->r;
	const char *stem = mfg_batch_stem(r->b, i);
	unsigned line = mfg_batch_line(r->b, i);
	uint8_t key[NVS_XTS_KEY_LEN], hkey[NVS_HMAC_KEY_LEN], kfile[NVS_KEYFILE_SIZE];
	const uint8_t *xts = NULL;
	char name[640];
	size_t img_len;
	int rc;

	if (r->o->keys == MFG_KEYS_INPUT) {
		xts = r->input_key;
	} else if (r->o->keys == MFG_KEYS_GENERATE) {
		/* generate_key(): random keys (a CSPRNG here, not Python's random),
		 * or HMAC-derived ones. Key files are private: mode 0600. */
		if (r->o->kp_hmac_keygen) {
			if (nvs_key_random(hkey, sizeof(hkey), NULL) || nvs_key_from_hmac(hkey, sizeof(hkey), key, NULL)) {
				rc = mfg_fail(err, MFG_ECRYPTO, line, "cannot generate an HMAC key");
				goto out;
			}
			snprintf(name, sizeof(name), "hmac-%s", mfg_batch_keyfile(r->b, i));
			if ((rc = r->write(r->o->write_ctx, r->cr.dfd[2], name, hkey, sizeof(hkey), 0600))) {
				rc = mfg_fail(err, MFG_EIO, line, "%s/%s: %s", r->dir_keys, name, strerror(-rc));
				goto out;
			}
			r->made_bin[i] |= CUR_HMAC;
			w->bytes += sizeof(hkey);
		} else if (r->have_key) {
			memcpy(key, r->input_key, sizeof(key));
		} else if (nvs_key_random(key, sizeof(key), NULL)) {
			rc = mfg_fail(err, MFG_ECRYPTO, line, "cannot generate a key");
			goto out;
		}
		nvs_keyfile_build(key, kfile);
		if ((rc = r->write(r->o->write_ctx, r->cr.dfd[2], mfg_batch_keyfile(r->b, i), kfile, sizeof(kfile), 0600))) {
			rc = mfg_fail(err, MFG_EIO, line, "%s/%s: %s", r->dir_keys, mfg_batch_keyfile(r->b, i),
				     strerror(-rc));
			goto out;
		}
		r->made_bin[i] |= CUR_KEY;
		w->bytes += sizeof(kfile);
		xts = key;
	}
	if ((rc = mfg_batch_image(r->b, i, w->g, &r->files, xts, w->img, r->img_cap, &img_len, err)))
		goto out;
	snprintf(name, sizeof(name), "%s.bin", stem);
	if ((rc = r->write(r->o->write_ctx, r->cr.dfd[1], name, w->img, img_len, 0666))) {
		rc = mfg_fail(err, MFG_EIO, line, "%s/%s: %s", r->dir_bin, name, strerror(-rc));
		goto out;
	}
	r->made_bin[i] |= CUR_BIN;
	w->bytes += img_len;
out:
	OPENSSL_cleanse(key, sizeof(key));
	OPENSSL_cleanse(hkey, sizeof(hkey));
	OPENSSL_cleanse(kfile, sizeof(kfile));
	return rc;
}

static void *worker_main(void *arg)
{
	struct worker *w = arg;
	struct run *r = w->r;
	size_t n = mfg_batch_count(r->b);
	struct mfg_err err;

	while (!atomic_load(&r->stop)) {
		atomic_size_t *q[2] = {&r->next_csv, &r->next_bin};
		size_t i = n;
		int rc, kind = -1;
		if (w->images_first) {
			q[0] = &r->next_bin;
			q[1] = &r->next_csv;
		}
		for (int k = 0; k < 2 && kind < 0; k++)
			if (atomic_load(q[k]) < n && (i = atomic_fetch_add(q[k], 1)) < n)
				kind = q[k] == &r->next_bin;
		if (kind < 0)
			break;
		if (r->o->cancel && atomic_load(r->o->cancel))
			rc = mfg_fail(&err, MFG_ECANCELED, 0, "interrupted: the files of this batch were removed");
		else
			rc = kind ? write_image(w, i, &err) : write_csv(w, i, &err);
		if (rc) {
			pthread_mutex_lock(&r->lock);
			if (!r->rc) {
				r->rc = rc;
				r->err = err;
			}
			pthread_mutex_unlock(&r->lock);
			atomic_store(&r->stop, true);
		}
	}
	return NULL;
}

static int worker_init(struct worker *w, struct run *r, enum nvs_version version, struct mfg_err *err)
{
	struct nvs_err nerr;
	int rc;
	w->r = r;
	rc = nvs_gen_new(&w->g, r->size, version, &nerr);
	if (rc)
		return mfg_fail(err, rc == NVS_ENOMEM ? MFG_ENOMEM : MFG_ESIZE, 0, "%s", nerr.msg);
	w->img = malloc(r->img_cap);
	if (!w->img)
		return mfg_fail(err, MFG_ENOMEM, 0, "out of memory");
	return 0;
}

static void worker_deinit(struct worker *w)
{
	nvs_gen_free(w->g);
	if (w->img) {
		OPENSSL_cleanse(w->img, w->r->img_cap);
		free(w->img);
	}
	if (w->csv) {
		OPENSSL_cleanse(w->csv, w->csv_cap);
		free(w->csv);
	}
}

static int check_options(const struct mfg_options *o, struct mfg_err *err)
{
	if (!o->config_path || !o->values_path || !o->prefix || !o->size)
		return mfg_fail(err, MFG_EINPUT, 0, "CONFIG, VALUES, PREFIX and SIZE are needed");
	if (!mfg_has_csv_ext(o->config_path))
		return mfg_fail(err, MFG_EINPUT, 0, "config file %s does not have the .csv extension", o->config_path);
	if (!mfg_has_csv_ext(o->values_path))
		return mfg_fail(err, MFG_EINPUT, 0, "values file %s does not have the .csv extension", o->values_path);
	if (o->version != NVS_VERSION_1 && o->version != NVS_VERSION_2)
		return mfg_fail(err, MFG_EINPUT, 0, "--version must be 1 or 2");
	if (o->keys == MFG_KEYS_INPUT) {
		const char *base = strrchr(o->inputkey ? o->inputkey : "", '/'), *dot;
		base = base ? base + 1 : o->inputkey;
		dot = base ? strrchr(base, '.') : NULL;
		/* encrypt(): `'.bin' not in ext` */
		if (!o->inputkey || !dot || dot == base || !strstr(dot, ".bin"))
			return mfg_fail(err, MFG_EINPUT, 0, "--inputkey %s: only a .bin key file is accepted",
				       o->inputkey ? o->inputkey : "");
	}
	if (o->keys == MFG_KEYS_GENERATE && o->key_protect_hmac && !o->kp_hmac_keygen && !o->kp_hmac_inputkey)
		return mfg_fail(err, MFG_EINPUT, 0,
			       "--key_protect_hmac needs --kp_hmac_keygen or --kp_hmac_inputkey FILE (the HMAC key)");
	return 0;
}

static unsigned worker_count(size_t n, unsigned jobs)
{
	long cpus = sysconf(_SC_NPROCESSORS_ONLN);
	size_t t = jobs ? jobs : cpus > 0 ? (size_t)cpus : 1;
	if (t > MFG_MAX_WORKERS)
		t = MFG_MAX_WORKERS;
	while (t > 1 && n / t < MFG_MIN_PER_WORKER)
		t--;
	return (unsigned)t;
}

/* --inputkey, or the HMAC key (--kp_hmac_inputkey) the batch's keys are
 * derived from, into r->input_key. *keybuf (the file's bytes) is the
 * caller's to wipe and free, also on failure. */
static int read_input_key(struct run *r, uint8_t **keybuf, size_t *key_len, struct mfg_err *err)
{
	const struct mfg_options *o = r->o;
	const char *kp = o->keys == MFG_KEYS_INPUT ? o->inputkey : o->kp_hmac_inputkey;
	int rc;

	if ((rc = fsu_read_file(kp, 1024 * 1024, keybuf, key_len)))
		return mfg_fail(err, MFG_EIO, 0, "%s: %s", kp, strerror(-rc));
	if (o->keys == MFG_KEYS_INPUT) {
		/* encrypt() reads the first 64 bytes; the CRC is not checked */
		if (*key_len < NVS_XTS_KEY_LEN)
			return mfg_fail(err, MFG_EINPUT, 0, "%s: %zu bytes, a key file starts with the 64-byte XTS key",
					kp, *key_len);
		memcpy(r->input_key, *keybuf, NVS_XTS_KEY_LEN);
	} else if (nvs_key_from_hmac(*keybuf, *key_len, r->input_key, NULL)) {
		return mfg_fail(err, MFG_ECRYPTO, 0, "%s: cannot derive keys from the HMAC key", kp);
	}
	r->have_key = true;
	return 0;
}

/* Both CSVs read and checked into r->b. The buffers (values are secrets)
 * are the caller's to wipe and free, also on failure. */
static int load_batch(struct run *r, uint8_t **config, size_t *config_len, uint8_t **values, size_t *values_len,
		      struct mfg_err *err)
{
	const struct mfg_options *o = r->o;
	struct mfg_batch_params bp = {0};
	int rc;

	if ((rc = fsu_read_file(o->config_path, MFG_MAX_INPUT, config, config_len)))
		return mfg_fail(err, MFG_EIO, 0, "%s: %s", o->config_path, strerror(-rc));
	if ((rc = fsu_read_file(o->values_path, MFG_MAX_INPUT, values, values_len)))
		return mfg_fail(err, MFG_EIO, 0, "%s: %s", o->values_path, strerror(-rc));
	bp.config_name = o->config_path;
	bp.values_name = o->values_path;
	bp.prefix = o->prefix;
	bp.fileid = o->fileid;
	bp.prefix_num = o->prefix_num;
	bp.prefix_start = o->prefix_start;
	bp.prefix_digits = o->prefix_digits;
	bp.keygen = o->keys == MFG_KEYS_GENERATE;
	return mfg_batch_new(&r->b, (const char *)*config, *config_len, (const char *)*values, *values_len, &bp, err);
}

/* Pass 2: the output folders, then every file, on nw threads (this one
 * included). The caller rolls back on failure. */
static int pass_write(struct run *r, struct worker *w, unsigned nw, const char *outdir, struct mfg_err *err)
{
	const struct mfg_options *o = r->o;
	int rc;

	if ((rc = mfg_make_dirs(&r->cr, r->dir_csv, err)) || (rc = mfg_make_dirs(&r->cr, r->dir_bin, err)) ||
	    (o->keys == MFG_KEYS_GENERATE && (rc = mfg_make_dirs(&r->cr, r->dir_keys, err))))
		return rc;
	r->cr.dfd[0] = open(r->dir_csv, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	r->cr.dfd[1] = open(r->dir_bin, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (o->keys == MFG_KEYS_GENERATE)
		r->cr.dfd[2] = open(r->dir_keys, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (r->cr.dfd[0] < 0 || r->cr.dfd[1] < 0 || (o->keys == MFG_KEYS_GENERATE && r->cr.dfd[2] < 0))
		return mfg_fail(err, MFG_EIO, 0, "cannot open the output directories under %s: %s", outdir,
				strerror(errno));
	for (unsigned t = 1; t < nw; t++)
		w[t].started = pthread_create(&w[t].thread, NULL, worker_main, &w[t]) == 0;
	/* this thread works too; a worker that could not start leaves its share
	 * in the queues for the others */
	worker_main(&w[0]);
	for (unsigned t = 1; t < nw; t++)
		if (w[t].started)
			pthread_join(w[t].thread, NULL);
	if (r->rc) {
		if (err)
			*err = r->err;
		return r->rc;
	}
	return 0;
}

/* Everything a run holds, released (and its secrets wiped). */
static void run_deinit(struct run *r, struct worker *w)
{
	for (int d = 0; d < 3; d++)
		if (r->cr.dfd[d] >= 0)
			close(r->cr.dfd[d]);
	for (int d = 0; d < r->cr.ndirs; d++)
		free(r->cr.dirs[d]);
	free(r->dir_csv);
	free(r->dir_bin);
	free(r->dir_keys);
	free(r->made_csv);
	free(r->made_bin);
	for (unsigned t = 0; t < MFG_MAX_WORKERS; t++)
		if (w[t].r)
			worker_deinit(&w[t]);
	mfg_batch_free(r->b);
	mfg_cache_clear(&r->cache);
	pthread_mutex_destroy(&r->cache.lock);
	pthread_mutex_destroy(&r->lock);
	OPENSSL_cleanse(r->input_key, sizeof(r->input_key));
}

int mfg_generate(const struct mfg_options *o, struct mfg_result *res, struct mfg_err *err)
{
	struct run r;
	struct worker w[MFG_MAX_WORKERS];
	uint8_t *config = NULL, *values = NULL, *keybuf = NULL;
	size_t config_len = 0, values_len = 0, key_len = 0, n = 0;
	const char *outdir;
	unsigned nw = 1;
	bool wrote = false;
	int rc;

	memset(&r, 0, sizeof(r));
	memset(w, 0, sizeof(w));
	r.o = o;
	r.write = o->write_file ? o->write_file : mfg_write_at;
	r.files.read = mfg_cache_read;
	r.files.ctx = &r.cache;
	r.cr.dfd[0] = r.cr.dfd[1] = r.cr.dfd[2] = -1;
	pthread_mutex_init(&r.lock, NULL);
	pthread_mutex_init(&r.cache.lock, NULL);
	atomic_init(&r.stop, false);
	if (res)
		memset(res, 0, sizeof(*res));
	if (err)
		memset(err, 0, sizeof(*err));
	if ((rc = check_options(o, err)))
		goto out;
	if ((rc = mfg_parse_size(o->size, &r.size, err)))
		goto out;
	r.img_cap = (size_t)r.size + (size_t)(r.size / NVS_PAGE_SIZE) * (NVS_KEY_MAX - 1);
	if ((o->keys == MFG_KEYS_INPUT || (o->keys == MFG_KEYS_GENERATE && o->key_protect_hmac && !o->kp_hmac_keygen)) &&
	    (rc = read_input_key(&r, &keybuf, &key_len, err)))
		goto out;
	if ((rc = load_batch(&r, &config, &config_len, &values, &values_len, err)))
		goto out;
	n = mfg_batch_count(r.b);
	nw = worker_count(n, o->jobs);
	for (unsigned t = 0; t < nw; t++) {
		if ((rc = worker_init(&w[t], &r, o->version, err)))
			goto out;
		w[t].images_first = t % 2 == 1 || nw == 1;
	}
	r.made_csv = calloc(n ? n : 1, 1);
	r.made_bin = calloc(n ? n : 1, 1);
	atomic_init(&r.next_csv, 0);
	atomic_init(&r.next_bin, 0);
	outdir = o->outdir && o->outdir[0] ? o->outdir : ".";
	r.dir_csv = mfg_join(outdir, "csv");
	r.dir_bin = mfg_join(outdir, "bin");
	r.dir_keys = mfg_join(outdir, "keys");
	if (!r.made_csv || !r.made_bin || !r.dir_csv || !r.dir_bin || !r.dir_keys) {
		rc = mfg_fail(err, MFG_ENOMEM, 0, "out of memory");
		goto out;
	}
	if ((rc = pass_check(&r, &w[0], err)))
		goto out;
	wrote = true;
	if ((rc = pass_write(&r, w, nw, outdir, err)))
		goto out;
	if (res) {
		res->devices = n;
		for (unsigned t = 0; t < nw; t++)
			res->bytes_written += w[t].bytes;
	}
	rc = 0;
out:
	if (rc && wrote)
		rollback(&r);
	run_deinit(&r, w);
	if (keybuf) {
		OPENSSL_cleanse(keybuf, key_len);
		free(keybuf);
	}
	if (values) {
		OPENSSL_cleanse(values, values_len);
		free(values);
	}
	free(config);
	return rc;
}
