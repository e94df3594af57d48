/* libFuzzer harness for pyint_parse(): Python's int() on outside text (CSV
 * values, sizes, partition fields, command-line numbers). Beyond not
 * crashing: what parses re-parses to itself from its decimal form, the
 * result does not depend on the base where Python's would not, and ASCII
 * text reads the same as str and as bytes. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include "espfab/pyint.h"
#include "espfab/pystr.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const unsigned bases[] = {0, 2, 8, 10, 16};
	struct pyint v, w, b;
	char text[32];

	for (size_t i = 0; i < sizeof(bases) / sizeof(bases[0]); i++) {
		int rc = pyint_parse(data, size, bases[i], 0, &v);
		if (rc != PYINT_OK && rc != PYINT_ESYNTAX && rc != PYINT_ERANGE && rc != PYINT_ENOMEM)
			abort();
		if (pystr_is_ascii(data, size) &&
		    (pyint_parse(data, size, bases[i], PYINT_BYTES, &b) != rc ||
		     (rc == PYINT_OK && (b.neg != v.neg || b.mag != v.mag))))
			abort();
		if (rc != PYINT_OK)
			continue;
		snprintf(text, sizeof(text), "%s%llu", v.neg ? "-" : "", (unsigned long long)v.mag);
		if (pyint_parse_str(text, 10, &w) != PYINT_OK || w.neg != v.neg || w.mag != v.mag)
			abort();
		/* base 0 and base 10 agree wherever both accept the text */
		if (bases[i] == 0 && pyint_parse(data, size, 10, 0, &w) == PYINT_OK && (w.mag != v.mag || w.neg != v.neg))
			abort();
	}
	return 0;
}
