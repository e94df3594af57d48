/* Python's str rules (pystr.h). */
#include "espfab/pystr.h"

size_t pystr_space_len(const uint8_t *s, size_t n, enum pystr_space kind)
{
	uint8_t c = s[0];

	if (c == ' ' || (c >= '\t' && c <= '\r'))
		return 1;
	if (kind == PYSTR_SPACE_BYTES)
		return 0;
	if (c >= 0x1C && c <= 0x1F)
		return kind == PYSTR_SPACE_STRIP;
	if (c == 0xC2 && n >= 2 && (s[1] == 0x85 || s[1] == 0xA0))
		return 2;
	if (n >= 3 && c == 0xE1 && s[1] == 0x9A && s[2] == 0x80) /* U+1680 */
		return 3;
	if (n >= 3 && c == 0xE2 && s[1] == 0x80 &&
	    ((s[2] >= 0x80 && s[2] <= 0x8A) || s[2] == 0xA8 || s[2] == 0xA9 || s[2] == 0xAF))
		return 3; /* U+2000-200A, 2028, 2029, 202F */
	if (n >= 3 && c == 0xE2 && s[1] == 0x81 && s[2] == 0x9F) /* U+205F */
		return 3;
	if (n >= 3 && c == 0xE3 && s[1] == 0x80 && s[2] == 0x80) /* U+3000 */
		return 3;
	return 0;
}

size_t pystr_space_len_end(const uint8_t *s, size_t n, enum pystr_space kind)
{
	for (size_t k = 1; k <= 3 && k <= n; k++)
		if (pystr_space_len(s + n - k, k, kind) == k)
			return k;
	return 0;
}

void pystr_strip(const uint8_t **s, size_t *n, enum pystr_space kind)
{
	size_t k;

	while (*n && (k = pystr_space_len(*s, *n, kind)) != 0) {
		*s += k;
		*n -= k;
	}
	while (*n && (k = pystr_space_len_end(*s, *n, kind)) != 0)
		*n -= k;
}

/* Each range holds the digits 0..9 in order, so the table keeps only the
 * code point of each range's zero. int() and the regex "\d" of the
 * reference take all of them: int("١٢") == 12. */
static const uint32_t digit_zero[] = {
	0x660,	 0x6F0,	  0x7C0,   0x966,   0x9E6,   0xA66,   0xAE6,   0xB66,   0xBE6,   0xC66,   0xCE6,
	0xD66,	 0xDE6,	  0xE50,   0xED0,   0xF20,   0x1040,  0x1090,  0x17E0,  0x1810,  0x1946,  0x19D0,
	0x1A80,	 0x1A90,  0x1B50,  0x1BB0,  0x1C40,  0x1C50,  0xA620,  0xA8D0,  0xA900,  0xA9D0,  0xA9F0,
	0xAA50,	 0xABF0,  0xFF10,  0x104A0, 0x10D30, 0x11066, 0x110F0, 0x11136, 0x111D0, 0x112F0, 0x11450,
	0x114D0, 0x11650, 0x116C0, 0x11730, 0x118E0, 0x11950, 0x11C50, 0x11D50, 0x11DA0, 0x16A60, 0x16AC0,
	0x16B50, 0x1D7CE, 0x1D7D8, 0x1D7E2, 0x1D7EC, 0x1D7F6, 0x1E140, 0x1E2F0, 0x1E950, 0x1FBF0,
};

int pystr_digit(uint32_t cp)
{
	for (size_t i = 0; i < sizeof(digit_zero) / sizeof(digit_zero[0]); i++)
		if (cp >= digit_zero[i] && cp < digit_zero[i] + 10)
			return (int)(cp - digit_zero[i]);
	return -1;
}

size_t pystr_utf8_next(const uint8_t *s, size_t n, uint32_t *cp)
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

bool pystr_is_ascii(const uint8_t *s, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (s[i] >= 0x80)
			return false;
	return true;
}

size_t pystr_int_ascii(const uint8_t *s, size_t len, uint8_t *out)
{
	size_t o = 0;

	for (size_t i = 0; i < len;) {
		uint32_t cp;
		size_t k = pystr_utf8_next(s + i, len - i, &cp);
		int d;

		if (cp < 0x7F) {
			out[o++] = (uint8_t)cp;
		} else if (cp != 0x7F && pystr_space_len(s + i, len - i, PYSTR_SPACE_STRIP) == k) {
			out[o++] = ' ';
		} else if ((d = pystr_digit(cp)) >= 0) {
			out[o++] = (uint8_t)('0' + d);
		} else {
			out[o++] = '?';
			break;
		}
		i += k;
	}
	return o;
}
