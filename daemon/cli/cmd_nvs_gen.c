/* espfab nvs generate, encrypt, generate-key and decrypt: what each does
 * once its command line is parsed (cmd_nvs.c), with the reference's output
 * names, progress lines and exit statuses. See cmd_nvs.h. */
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <openssl/crypto.h>

#include "cli.h"
#include "cmd_nvs.h"
#include "espfab/fsu.h"
#include "espfab/nvs.h"

/* os.path.splitext()'s extension: from the last '.' of the base name,
 * ignoring leading dots. */
static const char *nvs_cli_ext(const char *path)
{
	const char *base = strrchr(path, '/');
	const char *dot;

	base = base ? base + 1 : path;
	while (*base == '.')
		base++;
	dot = strrchr(base, '.');
	return dot ? dot : "";
}

/* The reference accepts any extension that contains ".bin" (a substring test). */
static bool nvs_cli_bin_ext(const char *path)
{
	return strstr(nvs_cli_ext(path), ".bin") != NULL;
}

/* set_target_filepath(): <outdir>/<file>, ".bin" added when there is no
 * extension, refused for another one; absolute files ignore outdir. */
static char *nvs_cli_target(const char *outdir, const char *file)
{
	const char *home = getenv("HOME");
	const char *ext = nvs_cli_ext(file);
	size_t need;
	char *out;

	if (*ext && !strstr(ext, ".bin")) {
		fprintf(stderr, "espfab nvs: `%s`: only the `.bin` extension is allowed\n", file);
		return NULL;
	}
	if (file[0] == '/' || !outdir)
		outdir = "";
	if (outdir[0] == '~' && (outdir[1] == '/' || !outdir[1]) && home)
		need = strlen(home) + strlen(outdir);
	else
		home = NULL, need = strlen(outdir);
	need += strlen(file) + 8;
	out = malloc(need);
	if (!out) {
		fprintf(stderr, "espfab nvs: out of memory\n");
		return NULL;
	}
	if (home)
		snprintf(out, need, "%s%s", home, outdir + 1);
	else
		snprintf(out, need, "%s", outdir);
	if (out[0] && out[strlen(out) - 1] != '/')
		strcat(out, "/");
	strcat(out, file);
	if (!*ext)
		strcat(out, ".bin");
	return out;
}

/* mkdir -p of the folder holding path. */
static int nvs_cli_mkdirs(const char *path)
{
	int rc = fsu_mkdir_parent(path, NULL);

	if (rc < 0)
		fprintf(stderr, "espfab nvs: cannot create the folder of '%s': %s\n", path, strerror(-rc));
	return rc;
}

static int nvs_cli_write(const char *path, const uint8_t *data, size_t len, unsigned mode)
{
	struct nvs_err err = {0};

	if (nvs_cli_mkdirs(path) < 0)
		return -1;
	if (nvs_file_write_atomic(path, data, len, mode, &err) < 0) {
		fprintf(stderr, "espfab nvs: %s\n", err.msg);
		return -1;
	}
	return 0;
}

/* check_size(): returns the size, or 0 after printing why it is refused. */
static uint32_t nvs_cli_size(const char *text)
{
	int64_t v = 0;

	if (nvs_parse_size(text, &v) < 0) {
		/* The reference prints int()'s error and exits 0; a failure must
		 * not look like success here. */
		fprintf(stderr, "espfab nvs: invalid partition size '%s' (want e.g. 0x6000 or 24576)\n", text);
		return 0;
	}
	if (v % 4096 != 0) {
		fprintf(stderr, "espfab nvs: size of partition must be a multiple of 4096\n");
		return 0;
	}
	if (v < 4096) {
		fprintf(stderr, "espfab nvs: minimum partition size for read/write NVS is 0x3000 bytes and for "
				"read-only NVS is 0x1000 bytes\n");
		return 0;
	}
	if (v > (int64_t)NVS_CLI_SIZE_MAX) {
		fprintf(stderr, "espfab nvs: partition size 0x%llx is larger than this tool's 0x%x limit\n",
			(unsigned long long)v, NVS_CLI_SIZE_MAX);
		return 0;
	}
	if (v < 3 * 4096)
		printf("\nMinimum partition size for read/write NVS is 0x3000 bytes. Partitions smaller than this "
		       "must be flagged as \"readonly\" in the partition table CSV.\n");
	return (uint32_t)v;
}

static char *nvs_cli_cwd(void)
{
	char *cwd = getcwd(NULL, 0);
	if (!cwd)
		fprintf(stderr, "espfab nvs: cannot read the current directory: %s\n", strerror(errno));
	return cwd;
}

/* A key file named by --inputkey / KEY: the reference reads its first 64
 * bytes (read(64)), whatever the file holds; *key_len tells how many there
 * were. Whether a shorter key is usable is the caller's business. */
static int nvs_cli_read_key(const char *path, uint8_t key[NVS_XTS_KEY_LEN], size_t *key_len)
{
	struct nvs_err err = {0};
	uint8_t *data = NULL;
	size_t len = 0;
	int rc = nvs_file_read(path, &data, &len, &err);

	memset(key, 0, NVS_XTS_KEY_LEN);
	*key_len = 0;
	if (rc < 0) {
		fprintf(stderr, "espfab nvs: %s\n", err.msg);
	} else {
		*key_len = len < NVS_XTS_KEY_LEN ? len : NVS_XTS_KEY_LEN;
		memcpy(key, data, *key_len);
	}
	if (data) {
		OPENSSL_cleanse(data, len);
		free(data);
	}
	return rc;
}

struct nvs_cli_keys {
	char *key_path;  /* keys/<keyfile> */
	char *hmac_path; /* keys/<hmac keyfile> with --kp_hmac_keygen */
	uint8_t key[NVS_XTS_KEY_LEN];
	uint8_t hmac[NVS_HMAC_KEY_LEN];
};

static void nvs_cli_keys_deinit(struct nvs_cli_keys *k)
{
	free(k->key_path);
	free(k->hmac_path);
	OPENSSL_cleanse(k, sizeof(*k));
}

/* generate_key(): decide names and make the key in memory; nothing is
 * written yet, so a later failure leaves no file. */
static int nvs_cli_make_keys(const struct nvs_cli_args *a, const char *outdir, struct nvs_cli_keys *k)
{
	struct nvs_err err = {0};
	char stamp[32], *keys_dir = NULL, *hmac_name = NULL;
	const char *keyfile = a->opt[NVS_CLI_OPT_KEYFILE];
	uint8_t *hk = NULL;
	size_t hk_len = 0;
	int rc = 1;

	memset(k, 0, sizeof(*k));
	if (!keyfile) {
		time_t now = time(NULL);
		struct tm tm;
		localtime_r(&now, &tm);
		strftime(stamp, sizeof(stamp), "keys-%m-%d_%H-%M.bin", &tm);
		keyfile = stamp;
	}
	keys_dir = malloc(strlen(outdir) + 8);
	if (!keys_dir)
		goto out;
	sprintf(keys_dir, "%s%skeys/", outdir, (outdir[0] && outdir[strlen(outdir) - 1] != '/') ? "/" : "");
	k->key_path = nvs_cli_target(keys_dir, keyfile);
	if (!k->key_path)
		goto out;
	if (!a->opt[NVS_CLI_OPT_KP_HMAC]) {
		if (nvs_key_random(k->key, sizeof(k->key), &err) < 0)
			goto fail;
		rc = 0;
		goto out;
	}
	if (a->opt[NVS_CLI_OPT_KP_HMAC_KEYGEN]) {
		const char *name = a->opt[NVS_CLI_OPT_KP_HMAC_KEYFILE];
		if (!name) {
			hmac_name = malloc(strlen(keyfile) + 6);
			if (!hmac_name)
				goto out;
			sprintf(hmac_name, "hmac-%s", keyfile);
			name = hmac_name;
		}
		k->hmac_path = nvs_cli_target(keys_dir, name);
		if (!k->hmac_path)
			goto out;
		if (nvs_key_random(k->hmac, sizeof(k->hmac), &err) < 0)
			goto fail;
		if (nvs_key_from_hmac(k->hmac, sizeof(k->hmac), k->key, &err) < 0)
			goto fail;
		rc = 0;
		goto out;
	}
	if (!a->opt[NVS_CLI_OPT_KP_HMAC_INPUTKEY]) {
		fprintf(stderr, "espfab nvs: --key_protect_hmac needs --kp_hmac_keygen or --kp_hmac_inputkey FILE\n");
		goto out;
	}
	if (nvs_file_read(a->opt[NVS_CLI_OPT_KP_HMAC_INPUTKEY], &hk, &hk_len, &err) < 0 ||
	    nvs_key_from_hmac(hk, hk_len, k->key, &err) < 0)
		goto fail;
	rc = 0;
	goto out;
fail:
	fprintf(stderr, "espfab nvs: %s\n", err.msg);
out:
	if (hk) {
		OPENSSL_cleanse(hk, hk_len);
		free(hk);
	}
	free(hmac_name);
	free(keys_dir);
	return rc;
}

/* Write the HMAC key (if made) and the key file; on failure remove both. */
static int nvs_cli_write_keys(const struct nvs_cli_keys *k)
{
	uint8_t file[NVS_KEYFILE_SIZE];
	int rc = 0;

	if (k->hmac_path && nvs_cli_write(k->hmac_path, k->hmac, sizeof(k->hmac), 0600) < 0)
		return -1;
	nvs_keyfile_build(k->key, file);
	if (nvs_cli_write(k->key_path, file, sizeof(file), 0600) < 0) {
		if (k->hmac_path)
			unlink(k->hmac_path);
		rc = -1;
	}
	OPENSSL_cleanse(file, sizeof(file));
	if (rc == 0)
		printf("\nCreated encryption keys: ===>  %s\n", k->key_path);
	return rc;
}

static void nvs_cli_unlink_keys(const struct nvs_cli_keys *k)
{
	if (k->hmac_path)
		unlink(k->hmac_path);
	unlink(k->key_path);
}

/* encrypt's key options: --keygen or --inputkey FILE (read into key). An
 * empty key file makes a new key as --keygen does (*keygen). 0, or -1 after
 * one line. */
static int nvs_cli_encrypt_key(const struct nvs_cli_args *a, const char *size_text, uint8_t key[NVS_XTS_KEY_LEN],
			       size_t *key_len, bool *keygen)
{
	if (!a->opt[NVS_CLI_OPT_KEYGEN] && !a->opt[NVS_CLI_OPT_INPUTKEY]) {
		fprintf(stderr, "espfab nvs: encrypt needs --keygen or --inputkey FILE\n");
		return -1;
	}
	if (a->opt[NVS_CLI_OPT_KEYGEN] && a->opt[NVS_CLI_OPT_INPUTKEY]) {
		fprintf(stderr, "espfab nvs: --keygen and --inputkey cannot be used together\n");
		return -1;
	}
	if (!a->opt[NVS_CLI_OPT_KEYGEN] && a->opt[NVS_CLI_OPT_KEYFILE])
		printf("\nWarning: --inputkey argument is given. --keyfile argument will be ignored...\n");
	if (a->opt[NVS_CLI_OPT_INPUTKEY]) {
		if (!nvs_cli_bin_ext(a->opt[NVS_CLI_OPT_INPUTKEY])) {
			fprintf(stderr, "espfab nvs: `%s`: only the `.bin` extension is allowed\n",
				a->opt[NVS_CLI_OPT_INPUTKEY]);
			return -1;
		}
		if (nvs_cli_read_key(a->opt[NVS_CLI_OPT_INPUTKEY], key, key_len) < 0)
			return -1;
		/* The reference: generate(args, encr_key=key) does "if not
		 * encr_key: encr_key = generate_key(args)", so an EMPTY key
		 * file makes a new key exactly as --keygen does. */
		*keygen = *key_len == 0;
	}
	(void)nvs_cli_size(size_text); /* the reference checks (and warns) twice */
	return 0;
}

/* The image of the CSV inputs (all positionals but OUTPUT and SIZE),
 * encrypted with key when given. 0 and *img (the caller wipes and frees
 * it), or the exit status after one line. */
static int nvs_cli_build(const struct nvs_cli_args *a, uint32_t size, enum nvs_version version, const uint8_t *key,
			 size_t key_len, uint8_t **img, size_t *img_len)
{
	struct nvs_err err = {0};
	struct nvs_file_source files;
	struct nvs_gen *g = NULL;
	int ninputs = a->npos - 2, rc = 1;

	*img = NULL;
	nvs_file_source_init(&files, NULL);
	if (nvs_gen_new(&g, size, version, &err) < 0)
		goto fail;
	for (int i = 0; i < ninputs; i++)
		if (nvs_gen_add_csv_file(g, a->pos[i], &files, &err) < 0)
			goto fail;
	if (key && key_len != NVS_XTS_KEY_LEN && nvs_gen_entry_count(g)) {
		/* A shorter key fails at the first entry the reference encrypts
		 * (it would hex-decode it); an image without entries needs none. */
		fprintf(stderr, "espfab nvs: %s: the key file holds %zu bytes, the XTS key needs 64\n",
			a->opt[NVS_CLI_OPT_INPUTKEY], key_len);
		goto out;
	}
	*img = malloc(nvs_gen_image_len(g));
	if (!*img) {
		fprintf(stderr, "espfab nvs: out of memory\n");
		goto out;
	}
	if (nvs_gen_finish(g, key, *img, nvs_gen_image_len(g), img_len, &err) < 0)
		goto fail;
	rc = 0;
	goto out;
fail:
	fprintf(stderr, "espfab nvs: %s\n", err.msg);
	rc = err.code == NVS_EINPUT ? NVS_EXIT_INPUT : 1;
out:
	if (rc && *img) {
		OPENSSL_cleanse(*img, nvs_gen_image_len(g));
		free(*img);
		*img = NULL;
	}
	nvs_gen_free(g);
	return rc;
}

int nvs_cli_generate(const struct nvs_cli_args *a, bool encrypt)
{
	struct nvs_cli_keys keys;
	char *cwd = NULL, *out_path = NULL;
	const char *outdir, *output, *size_text;
	uint8_t *img = NULL;
	uint8_t key[NVS_XTS_KEY_LEN] = {0};
	size_t key_len = 0;
	bool have_keys = false, keys_written = false, keygen = a->opt[NVS_CLI_OPT_KEYGEN] != NULL;
	enum nvs_version version;
	uint32_t size;
	size_t img_len = 0;
	int rc = 1;

	memset(&keys, 0, sizeof(keys));
	if (a->npos < 3) {
		nvs_cli_usage(stderr);
		rc = 2;
		goto out;
	}
	output = a->pos[a->npos - 2];
	size_text = a->pos[a->npos - 1];
	version = a->version;
	size = nvs_cli_size(size_text);
	if (!size)
		goto out;
	if (encrypt && nvs_cli_encrypt_key(a, size_text, key, &key_len, &keygen) < 0)
		goto out;
	if (!nvs_cli_bin_ext(output)) {
		fprintf(stderr, "espfab nvs: `%s`: only the `.bin` extension is allowed\n", output);
		goto out;
	}
	cwd = nvs_cli_cwd();
	if (!cwd)
		goto out;
	outdir = a->opt[NVS_CLI_OPT_OUTDIR] ? a->opt[NVS_CLI_OPT_OUTDIR] : cwd;
	out_path = nvs_cli_target(outdir, output);
	if (!out_path)
		goto out;
	if (encrypt && keygen) {
		/* Keys go under <outdir>/keys/, outdir being '' when OUTPUT is absolute. */
		if (nvs_cli_make_keys(a, output[0] == '/' ? "" : outdir, &keys) != 0)
			goto out;
		have_keys = true;
		memcpy(key, keys.key, sizeof(key));
		key_len = sizeof(key);
	}

	printf("\nCreating NVS binary with version: %s\n", version == NVS_VERSION_1
								  ? "V1 - Multipage Blob Support Disabled"
								  : "V2 - Multipage Blob Support Enabled");
	rc = nvs_cli_build(a, size, version, encrypt ? key : NULL, key_len, &img, &img_len);
	if (rc)
		goto out;
	rc = 1;
	if (have_keys) {
		if (nvs_cli_write_keys(&keys) < 0)
			goto out;
		keys_written = true;
	}
	if (nvs_cli_write(out_path, img, img_len, 0644) < 0)
		goto out;
	keys_written = false;
	printf("\nCreated NVS binary: ===> %s\n", out_path);
	rc = 0;
out:
	if (keys_written)
		nvs_cli_unlink_keys(&keys);
	if (img) {
		OPENSSL_cleanse(img, img_len);
		free(img);
	}
	OPENSSL_cleanse(key, sizeof(key));
	nvs_cli_keys_deinit(&keys);
	free(out_path);
	free(cwd);
	return rc;
}

int nvs_cli_generate_key(const struct nvs_cli_args *a)
{
	struct nvs_cli_keys keys;
	char *cwd = NULL;
	int rc = 1;

	memset(&keys, 0, sizeof(keys));
	if (a->npos) {
		nvs_cli_usage(stderr);
		rc = 2;
		goto out;
	}
	cwd = nvs_cli_cwd();
	if (!cwd)
		goto out;
	if (nvs_cli_make_keys(a, a->opt[NVS_CLI_OPT_OUTDIR] ? a->opt[NVS_CLI_OPT_OUTDIR] : cwd, &keys) != 0)
		goto out;
	if (nvs_cli_write_keys(&keys) < 0)
		goto out;
	rc = 0;
out:
	nvs_cli_keys_deinit(&keys);
	free(cwd);
	return rc;
}

int nvs_cli_decrypt(const struct nvs_cli_args *a)
{
	struct nvs_err err = {0};
	uint8_t key[NVS_XTS_KEY_LEN];
	uint8_t *in = NULL, *out = NULL;
	size_t in_len = 0, out_len = 0, key_len = 0;
	char *cwd = NULL, *out_path = NULL;
	int rc = 1;

	if (a->npos != 3) {
		nvs_cli_usage(stderr);
		return 2;
	}
	for (int i = 0; i < 3; i++) {
		if (!nvs_cli_bin_ext(a->pos[i])) {
			fprintf(stderr, "espfab nvs: `%s`: only the `.bin` extension is allowed\n", a->pos[i]);
			return 1;
		}
	}
	if (nvs_cli_read_key(a->pos[1], key, &key_len) < 0)
		goto out;
	cwd = nvs_cli_cwd();
	if (!cwd)
		goto out;
	out_path = nvs_cli_target(a->opt[NVS_CLI_OPT_OUTDIR] ? a->opt[NVS_CLI_OPT_OUTDIR] : cwd, a->pos[2]);
	if (!out_path)
		goto out;
	if (nvs_file_read(a->pos[0], &in, &in_len, &err) < 0)
		goto fail;
	out = malloc(in_len ? in_len : 1);
	if (!out) {
		fprintf(stderr, "espfab nvs: out of memory\n");
		goto out;
	}
	if (nvs_decrypt_image_key(in, in_len, key, key_len, out, &out_len, &err) < 0)
		goto fail;
	if (nvs_cli_write(out_path, out, out_len, 0644) < 0)
		goto out;
	printf("\nCreated NVS decrypted binary: ===> %s\n", out_path);
	rc = 0;
	goto out;
fail:
	fprintf(stderr, "espfab nvs: %s\n", err.msg);
out:
	OPENSSL_cleanse(key, sizeof(key));
	if (out) {
		OPENSSL_cleanse(out, out_len);
		free(out);
	}
	free(in);
	free(out_path);
	free(cwd);
	return rc;
}

