/* libFuzzer harness: bytes of an outbox journal file (outbox_journal.h) into
 * its frame parser, the way outbox_open() walks it. A bad frame leaves the
 * offset where it was and says why in one line; a good one encodes back to
 * the very same bytes. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "outbox_journal.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct outbox_journal_rec rec;
	static uint8_t again[OUTBOX_JOURNAL_FRAME_MAX + 8];
	size_t off = OUTBOX_JOURNAL_MAGIC_LEN;
	char msg[256];
	int rc;

	if (!outbox_journal_magic_ok(data, size))
		return 0;
	for (;;) {
		size_t at = off, n;
		msg[0] = '\0';
		rc = outbox_journal_next(data, size, &off, &rec, msg, sizeof(msg));
		if (rc == 1)
			break;
		if (rc < 0) {
			if (off != at || !msg[0] || strchr(msg, '\n'))
				abort();
			break;
		}
		if (rc != 0 || off <= at || off > size)
			abort();
		n = outbox_journal_encode(&rec, again, sizeof(again));
		if (n != off - at || memcmp(again, data + at, n))
			abort();
	}
	return 0;
}
