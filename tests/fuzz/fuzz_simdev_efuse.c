/* espfab-sim's eFuse controller fed any register write sequence (what a
 * host can send with WRITE_REG), and any bytes as its eFuse file. Checks
 * the model's invariants: burnt bits never clear, a read-protected key
 * block always reads as zeros, nothing outside the tables is touched. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "espfab/le.h"
#include "simdev_efuse.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char *const chips[] = { "ESP32-C3", "ESP32-C6", "ESP32-H2", "ESP32-S3" };

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct sdefuse e;
	uint32_t before[EFUSE_BLOCKS][SDEFUSE_WORDS];

	if (size < 1)
		return 0;
	sdefuse_init(&e, efuse_layout_for(chips[data[0] & 3]));
	if (data[0] & 0x80) {
		/* the bytes as an eFuse file */
		char path[64], msg[256];
		int fd = memfd_create("efuse", 0);
		if (fd < 0)
			return 0;
		if (write(fd, data + 1, size - 1) == (ssize_t)(size - 1)) {
			snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
			if (sdefuse_load(&e, path, msg, sizeof(msg)) && !memchr(msg, 0, sizeof(msg)))
				abort();
		}
		e.path = NULL; /* never write back */
		close(fd);
		return 0;
	}
	for (size_t i = 1; i + 6 <= size; i += 6) {
		uint32_t off = le_get16(data + i) & 0x1FCu;
		uint32_t v = le_get32(data + i + 2);
		memcpy(before, e.fuse, sizeof(before));
		(void)sdefuse_write(&e, e.l->base + off, v);
		for (unsigned b = 0; b < EFUSE_BLOCKS; b++)
			for (unsigned w = 0; w < SDEFUSE_WORDS; w++)
				if ((before[b][w] & e.fuse[b][w]) != before[b][w])
					abort(); /* a burnt bit cleared */
		for (unsigned k = 0; k < EFUSE_KEY_BLOCKS; k++)
			if (((e.rd[0][1] >> k) & 1u) && ((e.fuse[0][1] >> k) & 1u))
				for (unsigned w = 0; w < 8; w++)
					if (sdefuse_read(&e, e.l->base + efuse_block_rd_offset(4 + k) + 4 * w))
						abort(); /* read protection leaked */
	}
	return 0;
}
