/* Python's int(text, base) (pyint.h). */
#include <stdlib.h>
#include <string.h>

#include "espfab/pyint.h"
#include "espfab/pystr.h"

static unsigned digit_value(uint8_t c)
{
	if (c >= '0' && c <= '9')
		return (unsigned)(c - '0');
	c |= 0x20;
	if (c >= 'a' && c <= 'z')
		return (unsigned)(c - 'a' + 10);
	return 99;
}

/* The prefix base 0 or base b accepts after "0", or 0. */
static unsigned prefix_base(uint8_t c, unsigned base)
{
	unsigned pb = (c | 0x20) == 'x' ? 16 : (c | 0x20) == 'o' ? 8 : (c | 0x20) == 'b' ? 2 : 0;

	return pb && (base == 0 || base == pb) ? pb : 0;
}

/* CPython's PyLong_FromString() on ASCII text. */
static int parse_ascii(const uint8_t *s, size_t len, unsigned base, struct pyint *out)
{
	bool neg = false, base0 = base == 0, prefixed = false, nonzero = false, big = false, last_us;
	uint64_t v = 0;
	size_t i = 0, ndigits = 0, first;

	pystr_strip(&s, &len, PYSTR_SPACE_BYTES);
	if (len && (s[0] == '+' || s[0] == '-')) {
		neg = s[0] == '-';
		i++;
	}
	if (i + 1 < len && s[i] == '0' && prefix_base(s[i + 1], base)) {
		base = prefix_base(s[i + 1], base);
		i += 2;
		prefixed = true;
	}
	if (base == 0)
		base = 10;
	/* One underscore may follow a prefix, else only single ones between digits. */
	last_us = !prefixed;
	if (prefixed && i < len && s[i] == '_') {
		i++;
		last_us = true;
	}
	first = i;
	for (; i < len; i++) {
		unsigned d;
		if (s[i] == '_') {
			if (last_us)
				return PYINT_ESYNTAX;
			last_us = true;
			continue;
		}
		d = digit_value(s[i]);
		if (d >= base)
			return PYINT_ESYNTAX;
		last_us = false;
		ndigits++;
		nonzero |= d != 0;
		/* Past 64 bits keep reading: bad syntax later is still a ValueError. */
		if (big || v > (UINT64_MAX - d) / base)
			big = true;
		else
			v = v * base + d;
	}
	if (!ndigits || last_us)
		return PYINT_ESYNTAX;
	if (base0 && !prefixed && s[first] == '0' && nonzero)
		return PYINT_ESYNTAX; /* int("010", 0) */
	if (big)
		return PYINT_ERANGE;
	out->neg = neg;
	out->mag = v;
	return PYINT_OK;
}

int pyint_parse(const uint8_t *s, size_t len, unsigned base, unsigned flags, struct pyint *out)
{
	uint8_t local[128], *tmp = local;
	int rc;

	if (base != 0 && base != 2 && base != 8 && base != 10 && base != 16)
		return PYINT_ESYNTAX;
	/* int(str) first turns Unicode digits and spaces into ASCII. */
	if ((flags & PYINT_BYTES) || pystr_is_ascii(s, len))
		return parse_ascii(s, len, base, out);
	if (len > sizeof(local) && !(tmp = malloc(len)))
		return PYINT_ENOMEM;
	rc = parse_ascii(tmp, pystr_int_ascii(s, len, tmp), base, out);
	if (tmp != local)
		free(tmp);
	return rc;
}

int pyint_parse_str(const char *s, unsigned base, struct pyint *out)
{
	return pyint_parse((const uint8_t *)s, strlen(s), base, 0, out);
}

int pyint_to_i64(const struct pyint *v, int64_t *out)
{
	if (v->mag > (uint64_t)INT64_MAX + v->neg)
		return PYINT_ERANGE;
	*out = v->neg ? (int64_t)(0 - v->mag) : (int64_t)v->mag;
	return PYINT_OK;
}
