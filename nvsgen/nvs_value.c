/* Row values: the conversions NVS.write_entry() applies to CSV text, with
 * Python's own parsing rules (int(), str.strip(), binascii). */
#include <stdlib.h>
#include <string.h>

#include "espfab/csv.h"
#include "espfab/pyint.h"
#include "espfab/pystr.h"
#include "nvs_internal.h"

/* Which characters count as whitespace, which are digits and what int()
 * makes of a str are Python's rules, in common/ (espfab/pystr.h,
 * espfab/pyint.h) so every reader of the reference's text shares them. */

int nvs_parse_int10(const uint8_t *s, size_t len, bool from_file, bool *neg, uint64_t *mag)
{
	struct pyint v;
	/* int(bytes) (a "file" value) knows ASCII only. */
	int rc = pyint_parse(s, len, 10, from_file ? PYINT_BYTES : 0, &v);

	*neg = false;
	*mag = 0;
	if (rc)
		return rc; /* PYINT_ESYNTAX -1, PYINT_ERANGE -2, PYINT_ENOMEM -3 */
	*neg = v.neg;
	*mag = v.mag;
	return 0;
}

int nvs_parse_int0(const char *text, int64_t *out)
{
	struct pyint v;
	int rc = pyint_parse_str(text, 0, &v);

	return rc ? rc : pyint_to_i64(&v, out);
}

int nvs_base64_decode(const uint8_t *in, size_t len, uint8_t *out, size_t *out_len)
{
	/* CPython 3.11 binascii.a2b_base64(strict_mode=False): characters outside
	 * the alphabet are skipped, '=' ends the data once it completes a quad. */
	unsigned quad = 0, pads = 0;
	uint8_t left = 0;
	size_t o = 0;

	for (size_t i = 0; i < len; i++) {
		uint8_t c = in[i], v;
		if (c == '=') {
			if (quad >= 2 && quad + ++pads >= 4)
				goto done;
			continue;
		}
		if (c >= 'A' && c <= 'Z')
			v = (uint8_t)(c - 'A');
		else if (c >= 'a' && c <= 'z')
			v = (uint8_t)(c - 'a' + 26);
		else if (c >= '0' && c <= '9')
			v = (uint8_t)(c - '0' + 52);
		else if (c == '+')
			v = 62;
		else if (c == '/')
			v = 63;
		else
			continue;
		pads = 0;
		switch (quad) {
		case 0:
			left = v;
			quad = 1;
			break;
		case 1:
			out[o++] = (uint8_t)(left << 2 | v >> 4);
			left = v & 0x0F;
			quad = 2;
			break;
		case 2:
			out[o++] = (uint8_t)(left << 4 | v >> 2);
			left = v & 0x03;
			quad = 3;
			break;
		default:
			out[o++] = (uint8_t)(left << 6 | v);
			left = 0;
			quad = 0;
			break;
		}
	}
	if (quad != 0)
		return -1; /* "Incorrect padding" / one character too many */
done:
	*out_len = o;
	return 0;
}

static uint8_t *nvs_scratch_get(struct nvs_scratch *s, size_t n)
{
	if (n > s->cap) {
		size_t cap = s->cap ? s->cap : 4096;
		uint8_t *nb;
		while (cap < n)
			cap *= 2;
		nb = realloc(s->buf, cap);
		if (!nb)
			return NULL;
		s->buf = nb;
		s->cap = cap;
	}
	return s->buf;
}

static int nvs_hexval(uint8_t c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	c |= 0x20;
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	return -1;
}

static size_t nvs_utf8_chars(const uint8_t *s, size_t n)
{
	size_t c = 0;
	for (size_t i = 0; i < n; i++)
		c += (s[i] & 0xC0) != 0x80;
	return c;
}

struct nvs_prim_info {
	const char *name;
	uint8_t type;
	unsigned width;
	bool is_signed;
};

static const struct nvs_prim_info nvs_prims[] = {
	{"u8", NVS_TYPE_U8, 1, false},	 {"i8", NVS_TYPE_I8, 1, true},	 {"u16", NVS_TYPE_U16, 2, false},
	{"i16", NVS_TYPE_I16, 2, true},	 {"u32", NVS_TYPE_U32, 4, false}, {"i32", NVS_TYPE_I32, 4, true},
	{"u64", NVS_TYPE_U64, 8, false}, {"i64", NVS_TYPE_I64, 8, true},
};

static int nvs_convert_prim(const struct nvs_prim_info *p, const uint8_t *value, size_t len, bool from_file,
			    struct nvs_value *out, struct nvs_err *err)
{
	bool neg;
	uint64_t mag = 0, max;
	int rc = nvs_parse_int10(value, len, from_file, &neg, &mag);

	if (rc == -3)
		return nvs_fail(err, NVS_ENOMEM, "out of memory");
	if (rc == -1)
		return nvs_fail(err, NVS_EINPUT, "%s value is not a base-10 integer", p->name);
	max = p->width == 8 ? UINT64_MAX : (UINT64_C(1) << (8 * p->width)) - 1;
	if (p->is_signed)
		max >>= 1;
	if (rc == -2 || (neg && mag && (!p->is_signed || mag > max + 1)) || (!neg && mag > max)) {
		if (p->is_signed)
			return nvs_fail(err, NVS_EINPUT, "value out of range for %s (%lld..%llu)", p->name,
					(long long)(-(int64_t)max - 1), (unsigned long long)max);
		return nvs_fail(err, NVS_EINPUT, "value out of range for %s (0..%llu)", p->name,
				(unsigned long long)max);
	}
	out->kind = NVS_KIND_PRIM;
	out->type = p->type;
	out->width = p->width;
	out->bits = neg ? (uint64_t)0 - mag : mag;
	return 0;
}

/* blob_fill(N;0xPP) and blob_sz_fill(N;0xPP): re.match() anchors at the start
 * only, so text after ")" is ignored as in the reference. */
static int nvs_convert_fill(const char *enc, const uint8_t *value, size_t len, bool from_file, bool missing,
			    size_t max_len, struct nvs_scratch *s, struct nvs_value *out, struct nvs_err *err)
{
	bool sz = !strncmp(enc, "blob_sz_fill", 12);
	const char *p = enc + (sz ? 12 : 9);
	unsigned long long n = 0;
	int hi, lo;
	uint8_t pad, *buf;
	size_t vlen = missing ? 0 : len, total, o = 0, digits = 0;

	if (*p++ != '(')
		goto bad;
	/* "\d+": the regex of a str pattern takes every Unicode decimal digit
	 * and int() reads them ("blob_fill(１６;0xff)" is 16 bytes). */
	for (;;) {
		uint32_t cp;
		size_t k = pystr_utf8_next((const uint8_t *)p, strlen(p), &cp);
		int d = cp >= '0' && cp <= '9' ? (int)(cp - '0') : cp >= 0x80 ? pystr_digit(cp) : -1;

		if (!*p || d < 0)
			break;
		if (n > max_len)
			return nvs_fail(err, NVS_EINPUT, "%.40s: length is larger than the partition", enc);
		n = n * 10 + (unsigned)d;
		p += k;
		digits++;
	}
	if (!digits || p[0] != ';' || p[1] != '0' || p[2] != 'x')
		goto bad;
	hi = nvs_hexval((uint8_t)p[3]);
	lo = hi < 0 ? -1 : nvs_hexval((uint8_t)p[4]);
	if (lo < 0 || p[5] != ')')
		goto bad;
	if (n > max_len)
		return nvs_fail(err, NVS_EINPUT, "%.40s: length is larger than the partition", enc);
	pad = (uint8_t)(hi << 4 | lo);
	if (from_file && vlen)
		return nvs_fail(err, NVS_EINPUT, "%.40s cannot take its value from a file", enc);
	if (vlen > n)
		return nvs_fail(err, NVS_EINPUT, "value longer than the %llu bytes of %.40s", n, enc);
	total = (size_t)n + (sz ? 4 : 0);
	buf = nvs_scratch_get(s, total ? total : 1);
	if (!buf)
		return nvs_fail(err, NVS_ENOMEM, "out of memory");
	if (sz) {
		le_put32(buf, (uint32_t)vlen);
		o = 4;
	}
	if (vlen)
		memcpy(buf + o, value, vlen);
	memset(buf + o + vlen, pad, (size_t)n - vlen);
	out->kind = NVS_KIND_BLOB;
	out->data = buf;
	out->len = total;
	return 0;
bad:
	return nvs_fail(err, NVS_EINPUT, "%.40s: invalid encoding format (want blob_fill(N;0xPP))", enc);
}

int nvs_value_convert(const char *enc, const uint8_t *value, size_t len, bool from_file, bool missing,
		      size_t max_len, struct nvs_scratch *s, struct nvs_value *out, struct nvs_err *err)
{
	uint8_t *buf;

	memset(out, 0, sizeof(*out));
	if (!strncmp(enc, "blob_fill", 9) || !strncmp(enc, "blob_sz_fill", 12))
		return nvs_convert_fill(enc, value, len, from_file, missing, max_len, s, out, err);
	for (size_t i = 0; i < sizeof(nvs_prims) / sizeof(nvs_prims[0]); i++) {
		if (!strcmp(enc, nvs_prims[i].name)) {
			if (missing)
				return nvs_fail(err, NVS_EINPUT, "no value");
			return nvs_convert_prim(&nvs_prims[i], value, len, from_file, out, err);
		}
	}
	if (strcmp(enc, "string") && strcmp(enc, "hex2bin") && strcmp(enc, "base64") && strcmp(enc, "binary"))
		return nvs_fail(err, NVS_EINPUT, "unsupported encoding '%.40s'", enc);
	if (missing)
		return nvs_fail(err, NVS_EINPUT, "no value");

	if (!strcmp(enc, "string")) {
		/* A file's bytes are decoded as UTF-8 (strictly) first. */
		if (from_file && csv_utf8_check((const char *)value, len, NULL) != 0)
			return nvs_fail(err, NVS_EINPUT, "file is not valid UTF-8 text");
		buf = nvs_scratch_get(s, len + 1);
		if (!buf)
			return nvs_fail(err, NVS_ENOMEM, "out of memory");
		if (len)
			memcpy(buf, value, len);
		buf[len] = '\0';
		out->kind = NVS_KIND_STRING;
		out->data = buf;
		out->len = len + 1;
		return 0;
	}
	if (!strcmp(enc, "binary")) {
		/* Bytes, also for CSV text: the reference sized text by characters
		 * (policy: the port stores the UTF-8 byte length). */
		out->kind = NVS_KIND_BLOB;
		out->data = value;
		out->len = len;
		return 0;
	}
	if (!strcmp(enc, "hex2bin")) {
		const uint8_t *h = value;
		size_t n = len;
		pystr_strip(&h, &n, from_file ? PYSTR_SPACE_BYTES : PYSTR_SPACE_STRIP);
		if ((from_file ? n : nvs_utf8_chars(h, n)) % 2)
			return nvs_fail(err, NVS_EINPUT, "hex2bin: odd number of hex digits");
		if (!from_file && !pystr_is_ascii(h, n))
			return nvs_fail(err, NVS_EINPUT, "hex2bin: non-ASCII characters");
		buf = nvs_scratch_get(s, n / 2 + 1);
		if (!buf)
			return nvs_fail(err, NVS_ENOMEM, "out of memory");
		for (size_t i = 0; i < n; i += 2) {
			int a = nvs_hexval(h[i]), b = nvs_hexval(h[i + 1]);
			if (a < 0 || b < 0)
				return nvs_fail(err, NVS_EINPUT, "hex2bin: non-hexadecimal digit");
			buf[i / 2] = (uint8_t)(a << 4 | b);
		}
		out->kind = NVS_KIND_BLOB;
		out->data = buf;
		out->len = n / 2;
		return 0;
	}
	/* base64 */
	if (!from_file && !pystr_is_ascii(value, len))
		return nvs_fail(err, NVS_EINPUT, "base64: non-ASCII characters");
	buf = nvs_scratch_get(s, len / 4 * 3 + 4);
	if (!buf)
		return nvs_fail(err, NVS_ENOMEM, "out of memory");
	if (nvs_base64_decode(value, len, buf, &out->len) < 0)
		return nvs_fail(err, NVS_EINPUT, "base64: incorrect padding");
	out->kind = NVS_KIND_BLOB;
	out->data = buf;
	return 0;
}
