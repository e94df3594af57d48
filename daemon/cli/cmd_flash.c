/* espfab flash: talk to a device's ROM serial bootloader (esptool-like,
 * ROM loader only). Output: human text, or one JSON object with --json.
 * Errors: one line on stderr with the device's own reason; exit 1 for a
 * device/port failure, 2 for a usage error. Payload bytes are never printed. */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <jansson.h>

#include "espfab/err.h"
#include "cli.h"
#include "cmd_flash.h"
#include "cmd_flash_compat.h"
#include "cmd_flash_efuse.h"
#include "espfab/flashop.h"
#include "espfab/fsu.h"
#include "espfab/fwimg.h"
#include "espfab/le.h"
#include "espfab/nvs.h"
#include "espfab/part.h"

struct progress {
	int on;
	const char *what;
	uint32_t base;
	int last_pct;
};

static void progress_cb(void *ctx, uint64_t done, uint64_t total)
{
	struct progress *p = ctx;
	int pct = total ? (int)(done * 100 / total) : 100;
	int bar = pct / 4;

	if (!p->on || pct == p->last_pct)
		return;
	p->last_pct = pct;
	fprintf(stderr, "\r%s 0x%08x [%.*s%*s] %3d%%", p->what, (unsigned)p->base, bar,
		"=========================", 25 - bar, "", pct);
	if (done >= total)
		fprintf(stderr, "\n");
	fflush(stderr);
}

static void mac_str(const uint8_t m[6], char out[18])
{
	snprintf(out, 18, "%02x:%02x:%02x:%02x:%02x:%02x", m[0], m[1], m[2], m[3], m[4], m[5]);
}

/* One line on stderr; with --json also the whole diagnosis on stdout. */
static int report_error(const struct fl_args *a, int e, const struct rom_diag *d)
{
	const char *msg = d && d->msg[0] ? d->msg : rom_strerror(e);

	if (!strncmp(msg, a->port, strlen(a->port)))
		fprintf(stderr, "espfab flash: %s: %s\n", a->cmd, msg); /* already names the port */
	else
		fprintf(stderr, "espfab flash: %s: %s: %s\n", a->cmd, a->port, msg);
	if (a->json) {
		json_t *o = json_pack("{s:b,s:s,s:s,s:s,s:i,s:s}", "ok", 0, "command", a->cmd, "port", a->port,
				      "error", rom_error_name(e), "code", e, "message", msg);
		if (d && d->last_cmd)
			json_object_set_new(o, "last_command", json_string(rom_cmd_name(d->last_cmd)));
		if (d && d->have_status) {
			json_object_set_new(o, "rom_status", json_integer(d->status));
			json_object_set_new(o, "rom_error", json_integer(d->rom_error));
		}
		if (d && d->sys_errno)
			json_object_set_new(o, "errno", json_integer(d->sys_errno));
		if (d && d->boot_log[0])
			json_object_set_new(o, "boot_log", json_string(d->boot_log));
		json_dumpf(o, stdout, JSON_COMPACT);
		fputc('\n', stdout);
		json_decref(o);
	}
	return 1;
}

static int fail_local(const struct fl_args *a, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int fail_local(const struct fl_args *a, const char *fmt, ...)
{
	struct rom_diag d;
	va_list ap;

	memset(&d, 0, sizeof(d));
	va_start(ap, fmt);
	err_vformat(d.msg, sizeof(d.msg), fmt, ap);
	va_end(ap);
	return report_error(a, ROM_EINVAL, &d);
}

static json_t *info_json(const struct flashop_info *in)
{
	char mac[18], fid[16];
	json_t *o = json_object();

	json_object_set_new(o, "chip", json_string(in->chip->name));
	if (in->mac_valid) {
		mac_str(in->mac, mac);
		json_object_set_new(o, "mac", json_string(mac));
	}
	if (in->flash_id) {
		snprintf(fid, sizeof(fid), "0x%06x", (unsigned)in->flash_id);
		json_object_set_new(o, "flash_id", json_string(fid));
	}
	json_object_set_new(o, "flash_size", json_integer(in->flash_size));
	json_object_set_new(o, "flash_size_detected", json_boolean(in->flash_size_detected));
	if (in->have_security) {
		json_object_set_new(o, "security_flags", json_integer(in->security.flags));
		json_object_set_new(o, "flash_crypt_cnt", json_integer(in->security.flash_crypt_cnt));
		if (in->security.have_chip_id)
			json_object_set_new(o, "chip_id", json_integer(in->security.chip_id));
	}
	json_object_set_new(o, "secure_boot", json_boolean(in->secure_boot));
	json_object_set_new(o, "secure_download", json_boolean(in->secure_download));
	json_object_set_new(o, "flash_encryption", json_boolean(in->flash_encrypted));
	json_object_set_new(o, "jtag_disabled", json_boolean(in->jtag_disabled));
	json_object_set_new(o, "baud", json_integer(in->baud));
	json_object_set_new(o, "usb_jtag", json_boolean(in->usb_jtag));
	return o;
}

static json_t *stats_json(const struct rom_stats *s)
{
	return json_pack("{s:I,s:I,s:f,s:i}", "tx_bytes", (json_int_t)s->tx_bytes, "rx_bytes",
			 (json_int_t)s->rx_bytes, "wire_seconds", s->wire_s, "retries", (int)s->retries);
}

static int load_file(const struct fl_args *a, const char *path, uint8_t **out, size_t *len)
{
	int rc = fsu_read_file(path, 256u * 1024 * 1024, out, len);

	if (rc == -EFBIG)
		return fail_local(a, "%s: larger than any flash", path);
	if (rc)
		return fail_local(a, "%s: %s", path, strerror(-rc));
	if (*len == 0) {
		free(*out);
		*out = NULL;
		return fail_local(a, "%s: empty file", path);
	}
	return 0;
}

static void wipe_free(uint8_t *p, size_t n)
{
	if (p) {
		volatile uint8_t *v = p;
		for (size_t i = 0; i < n; i++)
			v[i] = 0;
		free(p);
	}
}

/* Flash contents may hold secrets (NVS values): the file is private (0600). */
static int save_file(const struct fl_args *a, const char *path, const uint8_t *buf, size_t len)
{
	struct nvs_err err;

	if (nvs_file_write_atomic(path, buf, len, 0600, &err) < 0)
		return fail_local(a, "%s", err.msg);
	return 0;
}

static void print_part_raw(const uint8_t *buf, size_t len, json_t *arr)
{
	/* Fallback when the table does not parse: show what the entries say. */
	for (size_t o = 0; o + 32 <= len; o += 32) {
		const uint8_t *e = buf + o;
		char label[17];
		uint32_t off, size, flags;

		if (e[0] != 0xAA || e[1] != 0x50)
			break;
		memcpy(label, e + 12, 16);
		label[16] = '\0';
		for (int i = 0; label[i]; i++)
			if ((unsigned char)label[i] < 0x20 || (unsigned char)label[i] > 0x7e)
				label[i] = '?';
		off = le_get32(e + 4);
		size = le_get32(e + 8);
		flags = le_get32(e + 28);
		if (arr)
			json_array_append_new(arr, json_pack("{s:s,s:i,s:i,s:I,s:I,s:I}", "name", label, "type", e[2],
							     "subtype", e[3], "offset", (json_int_t)off, "size",
							     (json_int_t)size, "flags", (json_int_t)flags));
		else
			printf("%-16s 0x%02x 0x%02x 0x%08x 0x%08x 0x%x\n", label, e[2], e[3], (unsigned)off,
			       (unsigned)size, (unsigned)flags);
	}
}

static int do_read_part(const struct fl_args *a, struct flashop *f, json_t *out)
{
	uint8_t buf[PART_TABLE_MAX_LEN];
	struct part_opts po;
	struct part_table *t = NULL;
	struct part_err pe;
	struct progress pg = {.on = !a->json && isatty(2), .what = "Reading", .base = a->part_offset, .last_pct = -1};
	int e;

	e = flashop_read(f, a->part_offset, buf, sizeof(buf), progress_cb, &pg);
	if (e)
		return report_error(a, e, flashop_diag(f));
	part_opts_init(&po);
	po.table_offset = a->part_offset;
	e = part_readback_parse(buf, sizeof(buf), &po, PART_RB_NO_VERIFY, &t, &pe);
	if (e) {
		/* the device's bytes are what they are: say why, show raw entries */
		fprintf(stderr, "espfab flash: read-part: table at 0x%x: %s\n", (unsigned)a->part_offset, pe.msg);
		if (a->json) {
			json_t *arr = json_array();
			print_part_raw(buf, sizeof(buf), arr);
			json_object_set_new(out, "entries", arr);
			json_object_set_new(out, "table_error", json_string(pe.msg));
		} else {
			print_part_raw(buf, sizeof(buf), NULL);
		}
		return 1;
	}
	if (a->json) {
		json_t *arr = json_array();
		for (size_t i = 0; i < t->count; i++) {
			const struct part_entry *pe2 = &t->entries[i];
			const char *tn = part_type_name(NULL, pe2->type), *sn = part_subtype_name(NULL, pe2->type, pe2->subtype);
			json_t *o = json_pack("{s:s,s:i,s:i,s:I,s:I,s:b,s:b}", "name", pe2->name, "type", pe2->type,
					      "subtype", pe2->subtype, "offset", (json_int_t)pe2->offset, "size",
					      (json_int_t)pe2->size, "encrypted", (pe2->flags & PART_FLAG_ENCRYPTED) != 0,
					      "readonly", (pe2->flags & PART_FLAG_READONLY) != 0);
			if (tn)
				json_object_set_new(o, "type_name", json_string(tn));
			if (sn)
				json_object_set_new(o, "subtype_name", json_string(sn));
			json_array_append_new(arr, o);
		}
		json_object_set_new(out, "table_offset", json_integer(a->part_offset));
		json_object_set_new(out, "md5", json_boolean(t->has_md5));
		json_object_set_new(out, "entries", arr);
	} else {
		char *csv = NULL;
		if (part_csv_write(t, &po, &csv, &pe) == 0) {
			printf("# partition table read from 0x%x%s\n%s", (unsigned)a->part_offset,
			       t->has_md5 ? " (MD5 ok)" : " (no MD5 entry)", csv);
			free(csv);
		} else {
			print_part_raw(buf, sizeof(buf), NULL);
		}
	}
	part_table_free(t);
	return 0;
}

static int do_write(const struct fl_args *a, struct flashop *f, json_t *out)
{
	uint32_t offs[MAX_FILES];
	uint8_t *data[MAX_FILES] = {0};
	size_t lens[MAX_FILES] = {0};
	int n = a->npos / 2, rc = 0;
	json_t *arr = json_array();

	for (int i = 0; i < n && !rc; i++) {
		if (fl_parse_u32(a->pos[2 * i], &offs[i]))
			rc = fail_local(a, "'%s' is not an offset", a->pos[2 * i]);
		else if (offs[i] % 4)
			rc = fail_local(a, "offset 0x%x is not 4-byte aligned", (unsigned)offs[i]);
		else
			rc = load_file(a, a->pos[2 * i + 1], &data[i], &lens[i]);
	}
	/* esptool's --flash_mode/--flash_size would rewrite the bootloader's
	 * header; espfab writes it as it is, so a disagreement is refused
	 * before anything is written. */
	for (int i = 0; i < n && !rc; i++) {
		char msg[400];
		if (offs[i] == flash_compat_boot_offset(flashop_info(f)->chip->name) &&
		    flash_compat_check_header(data[i], lens[i], a->pos[2 * i + 1], a->flash_mode, a->flash_size_s, msg,
					      sizeof(msg)))
			rc = fl_fail_usage("write: %s", msg);
	}
	/* overlapping regions would silently undo each other (sector padding
	 * included: the ROM erases whole sectors) */
	for (int i = 0; i < n && !rc; i++)
		for (int j = 0; j < n && !rc; j++) {
			uint64_t si = offs[i] & ~0xFFFu, ei = offs[i] + (uint64_t)lens[i];
			uint64_t sj = offs[j] & ~0xFFFu;
			if (i != j && si <= sj && sj < ((ei + 0xFFF) & ~(uint64_t)0xFFF))
				rc = fail_local(a, "%s at 0x%x overlaps %s at 0x%x (sectors are erased whole)",
						a->pos[2 * j + 1], (unsigned)offs[j], a->pos[2 * i + 1], (unsigned)offs[i]);
		}
	for (int i = 0; i < n && !rc; i++) {
		struct progress pg = {.on = !a->json && isatty(2), .what = "Writing", .base = offs[i], .last_pct = -1};
		unsigned flags = (a->no_compress ? FLASHOP_NO_COMPRESS : 0) | (a->verify ? FLASHOP_VERIFY : 0) |
				 (a->plaintext ? FLASHOP_PLAINTEXT_OK : 0);
		int e = flashop_write(f, offs[i], data[i], lens[i], flags, progress_cb, &pg);
		if (e) {
			rc = report_error(a, e, flashop_diag(f));
			break;
		}
		json_array_append_new(arr, json_pack("{s:s,s:I,s:I,s:b}", "file", a->pos[2 * i + 1], "offset",
						     (json_int_t)offs[i], "size", (json_int_t)lens[i], "verified",
						     a->verify));
		if (!a->json)
			printf("Wrote %zu bytes at 0x%08x%s\n", lens[i], (unsigned)offs[i], a->verify ? " (verified)" : "");
	}
	for (int i = 0; i < n; i++)
		wipe_free(data[i], lens[i]);
	json_object_set_new(out, "written", arr);
	return rc;
}

/* chip-id, read-mac, flash-id: what the connection already learnt. */
static int do_info(const struct fl_args *a, struct flashop *f)
{
	const struct flashop_info *in = flashop_info(f);
	char mac[18];

	if (!strcmp(a->cmd, "chip-id")) {
		if (!a->json) {
			printf("Chip: %s\n", in->chip->name);
			if (in->have_security && in->security.have_chip_id)
				printf("Chip id: %u\n", (unsigned)in->security.chip_id);
			if (in->mac_valid) {
				mac_str(in->mac, mac);
				printf("MAC: %s\n", mac);
			}
			printf("Secure boot: %s, secure download: %s, flash encryption: %s, JTAG: %s\n",
			       in->secure_boot ? "on" : "off", in->secure_download ? "on" : "off",
			       in->flash_encrypted ? "on" : "off", in->jtag_disabled ? "disabled" : "enabled");
		}
		return 0;
	}
	if (!strcmp(a->cmd, "read-mac")) {
		if (!in->mac_valid)
			return fail_local(a, "the MAC cannot be read in secure download mode");
		if (!a->json) {
			mac_str(in->mac, mac);
			printf("MAC: %s\n", mac);
		}
		return 0;
	}
	if (!strcmp(a->cmd, "flash-id")) {
		if (!a->json) {
			if (in->flash_id)
				printf("Manufacturer: %02x\nDevice: %02x%02x\n", (unsigned)(in->flash_id & 0xFF),
				       (unsigned)((in->flash_id >> 8) & 0xFF), (unsigned)((in->flash_id >> 16) & 0xFF));
			if (in->flash_size)
				printf("Flash size: %uMB%s\n", (unsigned)(in->flash_size >> 20),
				       in->flash_size_detected ? " (detected)" : " (given)");
			else
				printf("Flash size: unknown (secure download mode: give --flash-size)\n");
		}
		return 0;
	}
	return fl_fail_usage("unknown command '%s'", a->cmd);
}

static int run(const struct fl_args *a, struct flashop *f, json_t *out)
{
	int e;

	if (!strcmp(a->cmd, "chip-id") || !strcmp(a->cmd, "read-mac") || !strcmp(a->cmd, "flash-id"))
		return do_info(a, f);
	if (!strcmp(a->cmd, "write"))
		return do_write(a, f, out);
	if (!strcmp(a->cmd, "verify")) {
		uint32_t off;
		uint8_t *d = NULL;
		size_t len = 0;
		if (fl_parse_u32(a->pos[0], &off))
			return fail_local(a, "'%s' is not an offset", a->pos[0]);
		if (load_file(a, a->pos[1], &d, &len))
			return 1;
		e = flashop_verify(f, off, d, len);
		wipe_free(d, len);
		if (e)
			return report_error(a, e, flashop_diag(f));
		if (!a->json)
			printf("Verified %zu bytes at 0x%08x\n", len, (unsigned)off);
		json_object_set_new(out, "verified", json_true());
		return 0;
	}
	if (!strcmp(a->cmd, "read")) {
		uint32_t off, size;
		uint8_t *buf;
		struct progress pg = {.on = !a->json && isatty(2), .what = "Reading", .last_pct = -1};
		if (fl_parse_u32(a->pos[0], &off) || flashop_parse_size(a->pos[1], &size))
			return fail_local(a, "read: bad OFFSET '%s' or SIZE '%s'", a->pos[0], a->pos[1]);
		buf = malloc(size);
		if (!buf)
			return fail_local(a, "read: out of memory");
		pg.base = off;
		e = flashop_read(f, off, buf, size, progress_cb, &pg);
		if (e) {
			wipe_free(buf, size);
			return report_error(a, e, flashop_diag(f));
		}
		e = save_file(a, a->pos[2], buf, size);
		wipe_free(buf, size);
		if (e)
			return e;
		if (!a->json)
			printf("Read %u bytes at 0x%08x into %s\n", (unsigned)size, (unsigned)off, a->pos[2]);
		return 0;
	}
	if (!strcmp(a->cmd, "erase")) {
		uint32_t off, size;
		struct progress pg = {.on = !a->json && isatty(2), .what = "Erasing", .last_pct = -1};
		if (fl_parse_u32(a->pos[0], &off) || flashop_parse_size(a->pos[1], &size))
			return fail_local(a, "erase: bad OFFSET '%s' or SIZE '%s'", a->pos[0], a->pos[1]);
		pg.base = off;
		e = flashop_erase(f, off, size, progress_cb, &pg);
		if (e)
			return report_error(a, e, flashop_diag(f));
		if (!a->json)
			printf("Erased %u bytes at 0x%08x\n", (unsigned)size, (unsigned)off);
		return 0;
	}
	if (!strcmp(a->cmd, "efuse-summary")) {
		struct rom_diag ed;
		if ((e = cli_efuse_summary(f, a->json, out, &ed)))
			return report_error(a, e, &ed);
		return 0;
	}
	if (!strcmp(a->cmd, "read-part"))
		return do_read_part(a, f, out);
	return fl_fail_usage("unknown command '%s'", a->cmd);
}

static int check_arity(const struct fl_args *a)
{
	static const struct {
		const char *cmd;
		int min, max;
	} t[] = {
		{"chip-id", 0, 0}, {"read-mac", 0, 0}, {"flash-id", 0, 0}, {"write", 2, 2 * MAX_FILES},
		{"verify", 2, 2},  {"read", 3, 3},     {"erase", 2, 2},    {"read-part", 0, 0},
		{"efuse-summary", 0, 0},
	};

	for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		if (strcmp(a->cmd, t[i].cmd))
			continue;
		if (a->npos < t[i].min || a->npos > t[i].max || (!strcmp(a->cmd, "write") && a->npos % 2))
			return fl_fail_usage("%s: wrong number of arguments (see 'espfab flash --help')", a->cmd);
		return 0;
	}
	return fl_fail_usage("unknown command '%s' (see 'espfab flash --help')", a->cmd);
}

int cmd_flash(int argc, char **argv, const struct cli_globals *g)
{
	struct fl_args a;
	struct flashop_options o;
	struct flashop *f = NULL;
	struct rom_diag d;
	json_t *out = NULL;
	int rc, e;

	(void)g;
	rc = fl_parse_args(argc, argv, &a);
	if (rc)
		return rc == 1 ? 0 : rc;
	if ((rc = check_arity(&a)))
		return rc;
	flashop_options_init(&o);
	o.baud = a.baud;
	o.before = a.before;
	o.flash_size = a.flash_size;
	e = flashop_open(a.port, &o, &f, &d);
	if (e)
		return report_error(&a, e, &d);
	out = json_object();
	/* esptool's --chip: the device must be that chip. */
	if (a.chip && strcmp(a.chip, "auto") && !fwimg_chip_equal(flashop_info(f)->chip->name, a.chip))
		rc = fail_local(&a, "--chip %s but the device is an %s", a.chip, flashop_info(f)->chip->name);
	else
		rc = run(&a, f, out);
	if (rc == 0 && a.after == RESET_AFTER_HARD) {
		e = flashop_hard_reset(f);
		if (e)
			rc = report_error(&a, e, flashop_diag(f));
	}
	if (rc == 0 && a.json) {
		json_object_set_new(out, "ok", json_true());
		json_object_set_new(out, "command", json_string(a.cmd));
		json_object_set_new(out, "port", json_string(a.port));
		json_object_set_new(out, "device", info_json(flashop_info(f)));
		json_object_set_new(out, "stats", stats_json(flashop_stats(f)));
		json_dumpf(out, stdout, JSON_COMPACT);
		fputc('\n', stdout);
	}
	json_decref(out);
	flashop_close(f);
	return rc;
}
