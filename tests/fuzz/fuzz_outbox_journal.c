/* libFuzzer harness: bytes of an outbox journal file (outbox_journal.h) into
 * its frame parser, the way outbox_open() walks it, for every version. A
 * bad frame leaves the offset where it was and says why in one line; a good
 * one of version 3 encodes back to the very same bytes, one of version 1 or
 * 2 (read only) encodes as version 3 and reads back as what it was. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "outbox_journal.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct outbox_journal_rec rec, back;
	static uint8_t again[OUTBOX_JOURNAL_FRAME_MAX + 8], twice[OUTBOX_JOURNAL_FRAME_MAX + 8];
	size_t off = OUTBOX_JOURNAL_MAGIC_LEN;
	int version = outbox_journal_version(data, size);
	char msg[256];
	int rc;

	if (!version)
		return 0;
	for (;;) {
		size_t at = off, n;
		msg[0] = '\0';
		rc = outbox_journal_next(data, size, version, &off, &rec, msg, sizeof(msg));
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
		if (version == OUTBOX_JOURNAL_VERSION) {
			if (n != off - at || memcmp(again, data + at, n))
				abort();
			continue;
		}
		size_t o2 = 0;
		if (rec.type == OUTBOX_JOURNAL_HELD && version == 1 && rec.item.delivery[0])
			abort(); /* version 1 has no delivery ids */
		if (rec.type == OUTBOX_JOURNAL_HELD && rec.item.m.u.result.hmac)
			abort(); /* nor HMAC bits, before version 3 */
		if (!n || outbox_journal_next(again, n, OUTBOX_JOURNAL_VERSION, &o2, &back, msg, sizeof(msg)) || o2 != n ||
		    outbox_journal_encode(&back, twice, sizeof(twice)) != n || memcmp(again, twice, n))
			abort();
	}
	return 0;
}
