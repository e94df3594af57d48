/* Encoding and parsing of the outbox journal's frames. See outbox_journal.h. */
#include "outbox_journal.h"

#include <stdio.h>
#include <string.h>
#include <zlib.h>

#define HDR 8 /* u32 body_len, u32 crc32 */

struct wr {
	uint8_t *p;
	size_t len, cap;
	int over;
};

static void put(struct wr *w, uint64_t v, unsigned n)
{
	if (w->len + n > w->cap) {
		w->over = 1;
		return;
	}
	for (unsigned i = 0; i < n; i++)
		w->p[w->len++] = (uint8_t)(v >> (8 * i));
}

static void put_str(struct wr *w, const char *s, size_t field)
{
	size_t n = strnlen(s, field - 1);

	put(w, n, 2);
	if (w->len + n > w->cap) {
		w->over = 1;
		return;
	}
	memcpy(w->p + w->len, s, n);
	w->len += n;
}

size_t outbox_journal_encode(const struct outbox_journal_rec *rec, uint8_t *buf, size_t cap)
{
	struct wr w = {.p = buf, .len = HDR, .cap = cap};
	const struct jobq_msg *m = &rec->item.m;
	uint32_t crc;
	size_t end;

	if (cap < HDR)
		return 0;
	put(&w, (uint64_t)rec->type, 1);
	put(&w, (uint64_t)rec->key, 8);
	if (rec->type == OUTBOX_JOURNAL_HELD) {
		const struct jobq_result *r = &m->u.result;

		put_str(&w, rec->item.delivery, sizeof(rec->item.delivery));
		put(&w, (uint32_t)m->rc, 4);
		put(&w, r->sent ? 1 : 0, 1);
		put(&w, (uint64_t)m->batch_id, 8);
		put(&w, (uint64_t)m->job_id, 8);
		put(&w, r->baud, 4);
		put(&w, r->retries, 4);
		put(&w, r->duration_ms, 4);
		put(&w, (uint32_t)r->ident, 4);
		put(&w, (uint64_t)r->ident_product, 8);
		put_str(&w, m->mac, sizeof(m->mac));
		put_str(&w, m->chip, sizeof(m->chip));
		put_str(&w, r->record, sizeof(r->record));
		put_str(&w, r->flash_md5, sizeof(r->flash_md5));
		put_str(&w, r->image_sha256, sizeof(r->image_sha256));
		put_str(&w, m->error, sizeof(m->error));
		put_str(&w, rec->item.port, sizeof(rec->item.port));
		put(&w, r->hmac, 4); /* version 3 */
	}
	if (w.over || w.len - HDR > OUTBOX_JOURNAL_FRAME_MAX)
		return 0;
	crc = (uint32_t)crc32(0L, buf + HDR, (uInt)(w.len - HDR));
	end = w.len;
	w.len = 0; /* the header goes in front of the body written above */
	put(&w, end - HDR, 4);
	put(&w, crc, 4);
	return end;
}

struct rd {
	const uint8_t *p;
	size_t len, at;
	const char *bad; /* the first problem found */
};

static uint64_t get(struct rd *r, unsigned n)
{
	uint64_t v = 0;

	if (r->bad || r->len - r->at < n) {
		if (!r->bad)
			r->bad = "body ends inside a field";
		return 0;
	}
	for (unsigned i = 0; i < n; i++)
		v |= (uint64_t)r->p[r->at++] << (8 * i);
	return v;
}

static void get_str(struct rd *r, char *dst, size_t field, const char *name)
{
	size_t n = (size_t)get(r, 2);

	dst[0] = '\0';
	if (r->bad)
		return;
	if (n >= field || r->len - r->at < n || memchr(r->p + r->at, '\0', n)) {
		r->bad = name;
		return;
	}
	memcpy(dst, r->p + r->at, n);
	dst[n] = '\0';
	r->at += n;
}

static const char *decode_item(struct rd *r, int version, struct outbox_item *it)
{
	struct jobq_msg *m = &it->m;
	struct jobq_result *res = &m->u.result;
	uint64_t v;

	memset(it, 0, sizeof(*it));
	if (version >= 2) {
		get_str(r, it->delivery, sizeof(it->delivery), "delivery id too long or holds a NUL");
		size_t n = strlen(it->delivery);
		if (!r->bad && n && (n != OUTBOX_DELIVERY_LEN || strspn(it->delivery, "0123456789abcdef") != n))
			return "delivery id not 32 lower-case hex digits";
	}
	m->kind = JOBQ_RESULT;
	m->rc = (int32_t)(uint32_t)get(r, 4);
	v = get(r, 1);
	if (!r->bad && v > 1)
		return "sent flag not 0 or 1";
	res->sent = (int)v;
	m->batch_id = (int64_t)get(r, 8);
	m->job_id = (int64_t)get(r, 8);
	res->baud = (uint32_t)get(r, 4);
	res->retries = (uint32_t)get(r, 4);
	res->duration_ms = (uint32_t)get(r, 4);
	v = get(r, 4);
	if (!r->bad && v > JOBQ_IDENT_CHECK)
		return "unknown identity kind";
	res->ident = (enum jobq_ident)v;
	res->ident_product = (int64_t)get(r, 8);
	get_str(r, m->mac, sizeof(m->mac), "mac too long or holds a NUL");
	get_str(r, m->chip, sizeof(m->chip), "chip too long or holds a NUL");
	get_str(r, res->record, sizeof(res->record), "record too long or holds a NUL");
	get_str(r, res->flash_md5, sizeof(res->flash_md5), "flash MD5 too long or holds a NUL");
	get_str(r, res->image_sha256, sizeof(res->image_sha256), "image digest too long or holds a NUL");
	get_str(r, m->error, sizeof(m->error), "error text too long or holds a NUL");
	get_str(r, it->port, sizeof(it->port), "port name too long or holds a NUL");
	if (version >= 3)
		res->hmac = (uint32_t)get(r, 4);
	return r->bad;
}

int outbox_journal_version(const uint8_t *buf, size_t len)
{
	if (len < OUTBOX_JOURNAL_MAGIC_LEN)
		return 0;
	if (!memcmp(buf, OUTBOX_JOURNAL_MAGIC, OUTBOX_JOURNAL_MAGIC_LEN))
		return OUTBOX_JOURNAL_VERSION;
	if (!memcmp(buf, OUTBOX_JOURNAL_MAGIC_V2, OUTBOX_JOURNAL_MAGIC_LEN))
		return 2;
	return !memcmp(buf, OUTBOX_JOURNAL_MAGIC_V1, OUTBOX_JOURNAL_MAGIC_LEN) ? 1 : 0;
}

int outbox_journal_next(const uint8_t *buf, size_t len, int version, size_t *off, struct outbox_journal_rec *rec,
			char *msg, size_t cap)
{
	size_t left, blen;
	struct rd r = {0};
	const char *bad;
	uint32_t crc;
	uint64_t type;

	if (*off >= len)
		return 1;
	left = len - *off;
	if (left < HDR) {
		snprintf(msg, cap, "torn frame: %zu bytes where a frame header needs 8", left);
		return -1;
	}
	r.p = buf + *off;
	r.len = HDR;
	blen = (size_t)get(&r, 4);
	crc = (uint32_t)get(&r, 4);
	if (blen < 9 || blen > OUTBOX_JOURNAL_FRAME_MAX) {
		snprintf(msg, cap, "bad frame length %zu (9..%d)", blen, OUTBOX_JOURNAL_FRAME_MAX);
		return -1;
	}
	if (left - HDR < blen) {
		snprintf(msg, cap, "torn frame: %zu body bytes announced, %zu present", blen, left - HDR);
		return -1;
	}
	if ((uint32_t)crc32(0L, buf + *off + HDR, (uInt)blen) != crc) {
		snprintf(msg, cap, "checksum mismatch in a frame of %zu bytes", blen);
		return -1;
	}
	r.p = buf + *off + HDR;
	r.len = blen;
	r.at = 0;
	memset(rec, 0, sizeof(*rec));
	type = get(&r, 1);
	rec->key = (int64_t)get(&r, 8);
	if (type == OUTBOX_JOURNAL_HELD) {
		rec->type = OUTBOX_JOURNAL_HELD;
		bad = decode_item(&r, version, &rec->item);
	} else if (type == OUTBOX_JOURNAL_DELIVERED) {
		rec->type = OUTBOX_JOURNAL_DELIVERED;
		bad = NULL;
	} else {
		bad = "unknown frame type";
	}
	if (!bad && r.at != r.len)
		bad = "trailing bytes after the frame's fields";
	if (bad) {
		snprintf(msg, cap, "bad frame: %s", bad);
		return -1;
	}
	*off += HDR + blen;
	return 0;
}
