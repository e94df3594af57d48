/* Binary partition tables (PartitionTable.from_binary / to_binary of
 * gen_esp32part.py 1.5). An entry is 32 bytes, little-endian:
 *   0  magic AA 50      2 type     3 subtype   4 offset (u32)   8 size (u32)
 *   12 label[16] (NUL-padded; 16 bytes means no NUL)          28 flags (u32)
 * The MD5 entry is EB EB, 14 x FF, then MD5 of every entry before it; a
 * 32-byte 0xFF row ends the table, which is padded with 0xFF to 0xC00. */
#include <stdio.h>
#include <string.h>

#include <openssl/evp.h>

#include "part_priv.h"

/* Python's bytes.decode() (strict UTF-8) on the label; 0 when valid. */
static int label_utf8_ok(const uint8_t *s, size_t n, size_t *bad)
{
	for (size_t i = 0; i < n;) {
		uint8_t c = s[i];
		size_t k;
		if (c < 0x80) {
			i++;
			continue;
		}
		if (c >= 0xC2 && c <= 0xDF)
			k = 2;
		else if (c >= 0xE0 && c <= 0xEF)
			k = 3;
		else if (c >= 0xF0 && c <= 0xF4)
			k = 4;
		else
			goto fail;
		if (n - i < k)
			goto fail;
		for (size_t j = 1; j < k; j++)
			if ((s[i + j] & 0xC0) != 0x80)
				goto fail;
		if ((c == 0xE0 && s[i + 1] < 0xA0) || (c == 0xED && s[i + 1] >= 0xA0) || (c == 0xF0 && s[i + 1] < 0x90) ||
		    (c == 0xF4 && s[i + 1] >= 0x90))
			goto fail;
		i += k;
		continue;
fail:
		*bad = i;
		return -1;
	}
	return 0;
}

static int md5_digest(const uint8_t *data, size_t len, uint8_t out[16])
{
	unsigned int n = 0;

	return EVP_Digest(data, len, out, &n, EVP_md5(), NULL) == 1 && n == 16 ? 0 : -1;
}

static void hex16(const uint8_t *d, char out[33])
{
	for (int i = 0; i < 16; i++)
		snprintf(out + 2 * i, 3, "%02x", d[i]);
}

/* PartitionDefinition.from_binary() on one 32-byte entry at pos. */
static int parse_entry(const uint8_t *b, long pos, const struct part_opts *o, struct part_entry *e,
		       struct part_err *err)
{
	size_t nlen = 0, bad;
	uint32_t flags;

	while (nlen < PART_NAME_MAX && b[12 + nlen] != 0)
		nlen++;
	/* The reference checks the magic after decoding the label, so a bad
	 * label hides a bad magic behind a UnicodeDecodeError traceback; the
	 * magic is the more useful message, so it comes first here. */
	if (b[0] != PART_MAGIC_0 || b[1] != PART_MAGIC_1) {
		part_err_set(err, PART_EBINARY, 0, pos, "Invalid magic bytes (%02x %02x) for partition definition", b[0],
			     b[1]);
		return PART_EBINARY;
	}
	if (label_utf8_ok(b + 12, nlen, &bad)) {
		part_err_set(err, PART_EBINARY, 0, pos,
			     "partition label is not valid UTF-8 (byte 0x%02x at label position %zu)", b[12 + bad], bad);
		return PART_EBINARY;
	}
	memcpy(e->name, b + 12, nlen);
	e->name[nlen] = '\0';
	e->type = b[2];
	e->subtype = b[3];
	e->offset = le_get32(b + 4);
	e->size = le_get32(b + 8);
	flags = le_get32(b + 28);
	e->flags = flags & (PART_FLAG_ENCRYPTED | PART_FLAG_READONLY);
	flags &= ~(uint32_t)(PART_FLAG_ENCRYPTED | PART_FLAG_READONLY);
	if (flags)
		part_warn(o, 0, pos, "Partition definition had unknown flag(s) 0x%08x. Newer binary format?", flags);
	e->pos = pos;
	e->line = 0;
	return 0;
}

/* The loop of from_binary(); md5 says whether EB EB rows are MD5 entries. */
static int parse_bin(const uint8_t *buf, size_t len, bool md5, const struct part_opts *o, struct part_table **out,
		     struct part_err *err)
{
	static const uint8_t ff[PART_ENTRY_LEN] = {
		0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
		0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
	};
	struct part_table *t = part_table_alloc();
	EVP_MD_CTX *ctx = EVP_MD_CTX_new();
	int rc = PART_ENOMEM;

	if (!t || !ctx || EVP_DigestInit_ex(ctx, EVP_md5(), NULL) != 1) {
		part_err_set(err, rc, 0, -1, "out of memory");
		goto out;
	}
	for (size_t o_ = 0; o_ < len; o_ += PART_ENTRY_LEN) {
		const uint8_t *d = buf + o_;
		struct part_entry *e;
		if (len - o_ < PART_ENTRY_LEN) {
			rc = PART_EBINARY;
			part_err_set(err, rc, 0, (long)o_, "Partition table length must be a multiple of 32 bytes");
			goto out;
		}
		if (!memcmp(d, ff, PART_ENTRY_LEN)) {
			*out = t;
			t = NULL;
			rc = 0;
			goto out;
		}
		/* only the two magic bytes identify the MD5 entry, as in the reference */
		if (md5 && d[0] == PART_MD5_MAGIC && d[1] == PART_MD5_MAGIC) {
			uint8_t digest[16];
			EVP_MD_CTX *copy = EVP_MD_CTX_new();
			unsigned int n = 0;
			int ok = copy && EVP_MD_CTX_copy_ex(copy, ctx) == 1 && EVP_DigestFinal_ex(copy, digest, &n) == 1;
			EVP_MD_CTX_free(copy);
			if (!ok) {
				rc = PART_ENOMEM;
				part_err_set(err, rc, 0, (long)o_, "MD5 computation failed");
				goto out;
			}
			if (memcmp(d + 16, digest, 16) != 0) {
				char c[33], p[33];
				hex16(digest, c);
				hex16(d + 16, p);
				rc = PART_EMD5;
				part_err_set(err, rc, 0, (long)o_,
					     "MD5 checksums don't match! (computed: 0x%s, parsed: 0x%s)", c, p);
				goto out;
			}
			t->has_md5 = true;
			continue; /* the next row must be the end marker or more entries */
		}
		if (EVP_DigestUpdate(ctx, d, PART_ENTRY_LEN) != 1) {
			rc = PART_ENOMEM;
			part_err_set(err, rc, 0, (long)o_, "MD5 computation failed");
			goto out;
		}
		e = part_table_push(t);
		if (!e) {
			rc = PART_ENOMEM;
			part_err_set(err, rc, 0, (long)o_, "out of memory");
			goto out;
		}
		if ((rc = parse_entry(d, (long)o_, o, e, err)) != 0)
			goto out;
	}
	rc = PART_ENOEND;
	part_err_set(err, rc, 0, (long)len, "Partition table is missing an end-of-table marker");
out:
	EVP_MD_CTX_free(ctx);
	part_table_free(t);
	return rc;
}

int part_bin_parse(const uint8_t *buf, size_t len, const struct part_opts *o, struct part_table **out,
		   struct part_err *err)
{
	struct part_opts defaults;

	if (out)
		*out = NULL;
	part_err_clear(err);
	if (!o) {
		part_opts_init(&defaults);
		o = &defaults;
	}
	if (!out || (!buf && len)) {
		part_err_set(err, PART_EINVAL, 0, -1, "no input or output");
		return PART_EINVAL;
	}
	return parse_bin(buf, len, o->md5, o, out, err);
}

int part_bin_parse_md5(const uint8_t *buf, size_t len, const struct part_opts *o, struct part_table **out,
		       struct part_err *err)
{
	*out = NULL;
	part_err_clear(err);
	return parse_bin(buf, len, true, o, out, err);
}

int part_bin_write(const struct part_table *t, const struct part_opts *o, uint8_t *out, struct part_err *err)
{
	struct part_opts defaults;
	size_t len;

	part_err_clear(err);
	if (!o) {
		part_opts_init(&defaults);
		o = &defaults;
	}
	if (!t || !out) {
		part_err_set(err, PART_EINVAL, 0, -1, "no table or output");
		return PART_EINVAL;
	}
	len = t->count * PART_ENTRY_LEN + (o->md5 ? PART_ENTRY_LEN : 0);
	/* to_binary(): "len(result) >= MAX_PARTITION_LENGTH" so at least one
	 * 0xFF row always follows: 94 entries with MD5, 95 without. */
	if (len >= PART_TABLE_MAX_LEN) {
		part_err_set(err, PART_ETOOBIG, 0, -1, "Binary partition table length (%zu) longer than max", len);
		return PART_ETOOBIG;
	}
	memset(out, 0xFF, PART_TABLE_MAX_LEN);
	for (size_t i = 0; i < t->count; i++) {
		const struct part_entry *e = &t->entries[i];
		uint8_t *d = out + i * PART_ENTRY_LEN;
		size_t nlen = strnlen(e->name, PART_NAME_MAX);
		d[0] = PART_MAGIC_0;
		d[1] = PART_MAGIC_1;
		d[2] = e->type;
		d[3] = e->subtype;
		le_put32(d + 4, e->offset);
		le_put32(d + 8, e->size);
		memset(d + 12, 0, PART_NAME_MAX);
		memcpy(d + 12, e->name, nlen);
		le_put32(d + 28, e->flags & (PART_FLAG_ENCRYPTED | PART_FLAG_READONLY));
	}
	if (o->md5) {
		uint8_t *d = out + t->count * PART_ENTRY_LEN;
		d[0] = PART_MD5_MAGIC;
		d[1] = PART_MD5_MAGIC;
		/* d[2..15] stay 0xFF */
		if (md5_digest(out, t->count * PART_ENTRY_LEN, d + 16)) {
			part_err_set(err, PART_ENOMEM, 0, -1, "MD5 computation failed");
			return PART_ENOMEM;
		}
	}
	return 0;
}
