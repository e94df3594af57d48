/* espfab part: reading the input, writing the output, and the conversion
 * itself. See cmd_part.h. */
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <jansson.h>

#include "cmd_part.h"
#include "espfab/fsu.h"
#include "espfab/nvs.h"

static int read_input(const char *path, uint8_t **out, size_t *len)
{
	int rc = fsu_read_file(strcmp(path, "-") ? path : "/dev/stdin", MAX_INPUT, out, len);

	if (rc == -EFBIG)
		fprintf(stderr, PROG ": %s: larger than %u bytes; not a partition table\n", path, MAX_INPUT);
	else if (rc)
		fprintf(stderr, PROG ": argument input: can't open '%s': %s\n", path, strerror(-rc));
	return rc ? -1 : 0;
}

static void print_err(const char *path, const struct part_err *err)
{
	if (err->line)
		fprintf(stderr, "%s:%u: %s\n", path, err->line, err->msg);
	else if (err->pos >= 0)
		fprintf(stderr, "%s: byte 0x%lx: %s\n", path, err->pos, err->msg);
	else
		fprintf(stderr, "%s: %s\n", path, err->msg);
}

void part_cli_warn_stderr(void *user, unsigned line, long pos, const char *text)
{
	(void)user;
	(void)line;
	(void)pos;
	fprintf(stderr, "WARNING: %s\n", text);
}

const char *part_cli_env_lookup(void *user, const char *name)
{
	(void)user;
	return getenv(name);
}

static void status(const struct part_cli_args *a, const char *msg)
{
	if (!a->quiet)
		fprintf(stderr, "%s\n", msg);
}

/* Write data to path through a temporary file in the same folder, renamed
 * into place only when complete. Creates missing folders as the reference's
 * os.makedirs does. */
static int write_output(const char *path, const void *data, size_t len)
{
	char *copy = NULL, *dir;
	struct nvs_err err;
	int rc = -1, e;
	mode_t mask;

	if (!path || !strcmp(path, "-")) {
		if (fwrite(data, 1, len, stdout) != len || fflush(stdout)) {
			fprintf(stderr, PROG ": writing to stdout: %s\n", strerror(errno));
			return -1;
		}
		return 0;
	}
	copy = strdup(path);
	if (!copy) {
		fprintf(stderr, PROG ": out of memory\n");
		goto out;
	}
	dir = dirname(copy);
	if (strcmp(dir, ".") && (e = fsu_mkdir_p(dir, NULL, NULL, NULL))) {
		fprintf(stderr, PROG ": %s: cannot create folder %s: %s\n", path, dir, strerror(-e));
		goto out;
	}
	/* the reference's open() gives 0666 & ~umask */
	mask = umask(0);
	umask(mask);
	if (nvs_file_write_atomic(path, data, len, 0666 & ~mask, &err) < 0) {
		fprintf(stderr, PROG ": %s\n", err.msg);
		goto out;
	}
	rc = 0;
out:
	free(copy);
	return rc;
}

uint64_t part_cli_flash_size_bytes(const char *s)
{
	return strtoull(s, NULL, 10) * 1024u * 1024u;
}

/* Parse + verify + flash-size check, as main() does up to the output. */
int part_cli_load(struct part_cli_args *a, struct part_table **t, bool *is_binary)
{
	struct part_err err;
	uint8_t *buf = NULL;
	size_t len;
	int rc = 2;

	*t = NULL;
	if (part_opts_check(&a->opts, &err)) {
		fprintf(stderr, "%s\n", err.msg);
		return 2;
	}
	if (read_input(a->input, &buf, &len))
		return 2;
	*is_binary = len >= 2 && buf[0] == 0xAA && buf[1] == 0x50;
	status(a, *is_binary ? "Parsing binary partition input..." : "Parsing CSV input...");
	if (part_table_parse(buf, len, &a->opts, t, NULL, &err)) {
		print_err(a->input, &err);
		goto out;
	}
	if (!a->no_verify) {
		status(a, "Verifying table...");
		if (part_table_verify(*t, &a->opts, &err)) {
			print_err(a->input, &err);
			goto out;
		}
	}
	if (a->flash_size && part_table_check_flash_size(*t, part_cli_flash_size_bytes(a->flash_size), &err)) {
		print_err(a->input, &err);
		goto out;
	}
	rc = 0;
out:
	if (rc) {
		part_table_free(*t);
		*t = NULL;
	}
	free(buf);
	return rc;
}

int part_cli_convert(struct part_cli_args *a)
{
	struct part_table *t = NULL;
	struct part_err err;
	uint8_t bin[PART_TABLE_MAX_LEN];
	char *csv = NULL;
	bool is_binary = false;
	int rc;

	if ((rc = part_cli_load(a, &t, &is_binary)) != 0)
		return rc;
	rc = 2;
	if (is_binary) {
		if (part_csv_write(t, &a->opts, &csv, &err)) {
			print_err(a->input, &err);
			goto out;
		}
		if (write_output(a->output, csv, strlen(csv)))
			goto out;
	} else {
		if (part_bin_write(t, &a->opts, bin, &err)) {
			print_err(a->input, &err);
			goto out;
		}
		if (write_output(a->output, bin, sizeof(bin)))
			goto out;
	}
	rc = 0;
out:
	free(csv);
	part_table_free(t);
	return rc;
}

