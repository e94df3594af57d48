/* libFuzzer harness for the CSV reader: every flag combination, field
 * invariants checked on each record. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "espfab/csv.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct csv_reader *r = NULL;
	struct csv_record rec;
	struct csv_err err;
	unsigned flags;
	unsigned last_line = 0;

	if (size < 1)
		return 0;
	flags = data[0] & 0x0F;
	if (csv_reader_new(&r, (const char *)data + 1, size - 1, flags, (data[0] & 0x10) ? 16 : 0, &err) < 0)
		return 0;
	while (csv_reader_next(r, &rec, &err) == 1) {
		if (rec.line < last_line || rec.end_line < rec.line)
			abort();
		last_line = rec.end_line;
		for (size_t i = 0; i < rec.nfields; i++)
			if (rec.fields[i].ptr[rec.fields[i].len] != '\0')
				abort();
		(void)csv_record_find(&rec, "key");
	}
	csv_reader_free(r);
	return 0;
}
