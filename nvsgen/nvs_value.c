/* Row values: the conversions NVS.write_entry() applies to CSV text, with
 * Python's own parsing rules (int(), str.strip(), binascii). */
#include <stdlib.h>
#include <string.h>

#include "espfab/csv.h"
#include "nvs_internal.h"

/* Which characters count as whitespace differs between Python's calls:
 * str.strip() takes every str.isspace() character (ASCII 0x1C-0x1F too),
 * bytes (type "file" values) only ASCII " \t\n\v\f\r". int(str) turns the
 * non-ASCII str.isspace() characters into ' ' first (nvs_int_ascii), then
 * takes the ASCII six: 0x1C-0x1F are refused. */
enum nvs_space {
	NVS_SPACE_STRIP,
	NVS_SPACE_BYTES,
};

/* Length of the whitespace character (UTF-8) at s of that kind, or 0. */
static size_t nvs_space_len(const uint8_t *s, size_t n, enum nvs_space kind)
{
	uint8_t c = s[0];
	if (c == ' ' || (c >= '\t' && c <= '\r'))
		return 1;
	if (kind == NVS_SPACE_BYTES)
		return 0;
	if (c >= 0x1C && c <= 0x1F)
		return kind == NVS_SPACE_STRIP;
	if (c == 0xC2 && n >= 2 && (s[1] == 0x85 || s[1] == 0xA0))
		return 2;
	if (n >= 3 && c == 0xE1 && s[1] == 0x9A && s[2] == 0x80) /* U+1680 */
		return 3;
	if (n >= 3 && c == 0xE2 && s[1] == 0x80 &&
	    (s[2] <= 0x8A || s[2] == 0xA8 || s[2] == 0xA9 || s[2] == 0xAF)) /* U+2000-200A, 2028, 2029, 202F */
		return s[2] >= 0x80 ? 3 : 0;
	if (n >= 3 && c == 0xE2 && s[1] == 0x81 && s[2] == 0x9F) /* U+205F */
		return 3;
	if (n >= 3 && c == 0xE3 && s[1] == 0x80 && s[2] == 0x80) /* U+3000 */
		return 3;
	return 0;
}

/* The same test for the last character of s[0..n). */
static size_t nvs_space_len_end(const uint8_t *s, size_t n, enum nvs_space kind)
{
	for (size_t k = 1; k <= 3 && k <= n; k++) {
		size_t sl = nvs_space_len(s + n - k, k, kind);
		if (sl == k)
			return k;
	}
	return 0;
}

static void nvs_strip(const uint8_t **s, size_t *n, enum nvs_space kind)
{
	size_t k;
	while (*n && (k = nvs_space_len(*s, *n, kind)) != 0) {
		*s += k;
		*n -= k;
	}
	while (*n && (k = nvs_space_len_end(*s, *n, kind)) != 0)
		*n -= k;
}

/* Python's decimal digits (Unicode category Nd, Unicode 14.0 as in CPython
 * 3.11): each range holds the digits 0..9 in order, so the table keeps only
 * the code point of each range's zero. int() and the regex "\d" of the
 * reference take all of them: int("١٢") == 12. */
static const uint32_t nvs_digit_zero[] = {
	0x660,	 0x6F0,	  0x7C0,   0x966,   0x9E6,   0xA66,   0xAE6,   0xB66,   0xBE6,   0xC66,   0xCE6,
	0xD66,	 0xDE6,	  0xE50,   0xED0,   0xF20,   0x1040,  0x1090,  0x17E0,  0x1810,  0x1946,  0x19D0,
	0x1A80,	 0x1A90,  0x1B50,  0x1BB0,  0x1C40,  0x1C50,  0xA620,  0xA8D0,  0xA900,  0xA9D0,  0xA9F0,
	0xAA50,	 0xABF0,  0xFF10,  0x104A0, 0x10D30, 0x11066, 0x110F0, 0x11136, 0x111D0, 0x112F0, 0x11450,
	0x114D0, 0x11650, 0x116C0, 0x11730, 0x118E0, 0x11950, 0x11C50, 0x11D50, 0x11DA0, 0x16A60, 0x16AC0,
	0x16B50, 0x1D7CE, 0x1D7D8, 0x1D7E2, 0x1D7EC, 0x1D7F6, 0x1E140, 0x1E2F0, 0x1E950, 0x1FBF0,
};

/* One UTF-8 character at s (n > 0 bytes left): its code point and length.
 * Bytes that do not form a character give U+FFFD and length 1. */
static size_t nvs_utf8_next(const uint8_t *s, size_t n, uint32_t *cp)
{
	size_t len = s[0] >= 0xF0 ? 4 : s[0] >= 0xE0 ? 3 : s[0] >= 0xC0 ? 2 : 1;

	if (s[0] < 0x80) {
		*cp = s[0];
		return 1;
	}
	if (len == 1 || len > n)
		goto bad;
	*cp = s[0] & (0x3Fu >> (len - 1));
	for (size_t i = 1; i < len; i++) {
		if ((s[i] & 0xC0) != 0x80)
			goto bad;
		*cp = *cp << 6 | (s[i] & 0x3Fu);
	}
	return len;
bad:
	*cp = 0xFFFD;
	return 1;
}

/* The decimal value of a non-ASCII Nd digit, or -1. */
int nvs_unicode_digit(uint32_t cp)
{
	for (size_t i = 0; i < sizeof(nvs_digit_zero) / sizeof(nvs_digit_zero[0]); i++)
		if (cp >= nvs_digit_zero[i] && cp < nvs_digit_zero[i] + 10)
			return (int)(cp - nvs_digit_zero[i]);
	return -1;
}

size_t nvs_int_ascii(const uint8_t *s, size_t len, uint8_t *out)
{
	size_t o = 0;

	/* CPython's _PyUnicode_TransformDecimalAndSpaceToASCII(), which int()
	 * applies to a str before parsing it: ASCII stays, other whitespace
	 * becomes ' ', other decimal digits become '0'..'9', anything else
	 * ends the text with '?' (never valid). */
	for (size_t i = 0; i < len;) {
		uint32_t cp;
		size_t k = nvs_utf8_next(s + i, len - i, &cp);
		int d;

		if (cp < 0x7F) {
			out[o++] = (uint8_t)cp;
		} else if (cp != 0x7F && nvs_space_len(s + i, len - i, NVS_SPACE_STRIP) == k) {
			out[o++] = ' ';
		} else if ((d = nvs_unicode_digit(cp)) >= 0) {
			out[o++] = (uint8_t)('0' + d);
		} else {
			out[o++] = '?';
			break;
		}
		i += k;
	}
	return o;
}

static bool nvs_is_ascii(const uint8_t *s, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (s[i] >= 0x80)
			return false;
	return true;
}

/* The ASCII digits parser after the transformation above. */
static int nvs_parse_int10_ascii(const uint8_t *s, size_t len, bool *neg, uint64_t *mag)
{
	uint64_t v = 0;
	bool digit_before = false, any = false;

	nvs_strip(&s, &len, NVS_SPACE_BYTES);
	*neg = false;
	if (len && (s[0] == '+' || s[0] == '-')) {
		*neg = s[0] == '-';
		s++;
		len--;
	}
	for (size_t i = 0; i < len; i++) {
		if (s[i] == '_') {
			/* One underscore, only between digits. */
			if (!digit_before || i + 1 >= len || s[i + 1] < '0' || s[i + 1] > '9')
				return -1;
			digit_before = false;
			continue;
		}
		if (s[i] < '0' || s[i] > '9')
			return -1;
		if (v > (UINT64_MAX - (uint64_t)(s[i] - '0')) / 10)
			return -2; /* beyond every NVS integer type */
		v = v * 10 + (uint64_t)(s[i] - '0');
		digit_before = any = true;
	}
	if (!any)
		return -1;
	*mag = v;
	return 0;
}

int nvs_parse_int10(const uint8_t *s, size_t len, bool from_file, bool *neg, uint64_t *mag)
{
	uint8_t local[128], *tmp = local;
	int rc;

	/* int(bytes) (a "file" value) knows ASCII only. */
	if (from_file || nvs_is_ascii(s, len))
		return nvs_parse_int10_ascii(s, len, neg, mag);
	if (len > sizeof(local)) {
		tmp = malloc(len);
		if (!tmp)
			return -3;
	}
	rc = nvs_parse_int10_ascii(tmp, nvs_int_ascii(s, len, tmp), neg, mag);
	if (tmp != local)
		free(tmp);
	return rc;
}

static int nvs_parse_int0_ascii(const uint8_t *s, size_t len, int64_t *out)
{
	unsigned base = 10;
	bool neg = false, digit_before = false, any = false, leading_zero = false;
	uint64_t v = 0;
	size_t i = 0;

	nvs_strip(&s, &len, NVS_SPACE_BYTES);
	if (len && (s[0] == '+' || s[0] == '-')) {
		neg = s[0] == '-';
		s++;
		len--;
	}
	if (len >= 2 && s[0] == '0') {
		char p = (char)(s[1] | 0x20);
		if (p == 'x' || p == 'o' || p == 'b') {
			base = p == 'x' ? 16 : p == 'o' ? 8 : 2;
			i = 2;
			digit_before = true; /* "0x_1f" is valid */
		}
	}
	if (base == 10 && len && s[0] == '0')
		leading_zero = true;
	for (; i < len; i++) {
		unsigned d;
		if (s[i] == '_') {
			if (!digit_before || i + 1 >= len)
				return -1;
			digit_before = false;
			continue;
		}
		if (s[i] >= '0' && s[i] <= '9')
			d = s[i] - '0';
		else if ((s[i] | 0x20) >= 'a' && (s[i] | 0x20) <= 'f')
			d = (unsigned)((s[i] | 0x20) - 'a' + 10);
		else
			return -1;
		if (d >= base)
			return -1;
		/* Base 0 refuses "0123": a decimal with a leading zero must be all zeros. */
		if (leading_zero && d != 0)
			return -1;
		if (v > (UINT64_C(1) << 40))
			return -2;
		v = v * base + d;
		digit_before = any = true;
	}
	if (!any || !digit_before)
		return -1;
	*out = neg ? -(int64_t)v : (int64_t)v;
	return 0;
}

int nvs_parse_int0(const char *text, int64_t *out)
{
	const uint8_t *s = (const uint8_t *)text;
	size_t len = strlen(text);
	uint8_t *tmp;
	int rc;

	/* int(text, 0) transforms the text as int(text) does (see nvs_int_ascii). */
	if (nvs_is_ascii(s, len))
		return nvs_parse_int0_ascii(s, len, out);
	tmp = malloc(len);
	if (!tmp)
		return -3;
	rc = nvs_parse_int0_ascii(tmp, nvs_int_ascii(s, len, tmp), out);
	free(tmp);
	return rc;
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
		size_t k = nvs_utf8_next((const uint8_t *)p, strlen(p), &cp);
		int d = cp >= '0' && cp <= '9' ? (int)(cp - '0') : cp >= 0x80 ? nvs_unicode_digit(cp) : -1;

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
		nvs_strip(&h, &n, from_file ? NVS_SPACE_BYTES : NVS_SPACE_STRIP);
		if ((from_file ? n : nvs_utf8_chars(h, n)) % 2)
			return nvs_fail(err, NVS_EINPUT, "hex2bin: odd number of hex digits");
		if (!from_file && !nvs_is_ascii(h, n))
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
	if (!from_file && !nvs_is_ascii(value, len))
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
