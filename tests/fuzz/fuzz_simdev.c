/* libFuzzer harness: random host bytes (and line changes) into the device
 * engine must never crash it, leak, or read/write outside its buffers.
 *
 * Input: byte 0 picks chip / timing / faults; then records of
 *   FE F0 d r  -> set DTR/RTS (d & 1, r & 1)
 *   FE F1      -> host flushes input
 *   anything   -> fed to the engine as host bytes up to the next FE F0/F1
 * Between records the clock advances and the device's output is drained.
 */
#include <stddef.h>
#include <stdint.h>

#include "espfab/simdev.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int is_mark(const uint8_t *data, size_t size, size_t i, uint8_t what)
{
	return i + 1 < size && data[i] == 0xFE && data[i + 1] == what;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct simdev_config c;
	struct simdev *d = NULL;
	uint8_t out[512];
	uint64_t t = 0;
	size_t i = 1;

	if (size < 1)
		return 0;
	simdev_config_default(&c);
	c.chip = (enum simdev_chip)(data[0] % 3);
	c.timing = (data[0] >> 2) & 1;
	c.garbage = (data[0] >> 3) & 1;
	c.corrupt_rate = (data[0] >> 4) & 1 ? 0.01 : 0;
	c.start_in_download = !((data[0] >> 5) & 1);
	c.drop_after = (data[0] >> 6) & 1 ? 20 : -1;
	c.flash_size = 256 * 1024;
	c.erase_ms = 1;
	c.program_us = 1;
	if (simdev_new(&c, &d, NULL))
		return 0;
	while (i < size) {
		if (is_mark(data, size, i, 0xF0) && i + 3 < size) {
			simdev_set_lines(d, t, data[i + 2] & 1, data[i + 3] & 1);
			i += 4;
		} else if (is_mark(data, size, i, 0xF1)) {
			simdev_discard_tx(d, t);
			i += 2;
		} else {
			size_t j = i + 1;

			while (j < size && !is_mark(data, size, j, 0xF0) && !is_mark(data, size, j, 0xF1))
				j++;
			simdev_rx(d, t, data + i, j - i);
			i = j;
		}
		t += 3000000; /* 3 ms */
		while (simdev_tx(d, t, out, sizeof(out)) > 0)
			;
	}
	/* everything still queued comes out eventually */
	while (simdev_next_event_ns(d) != UINT64_MAX) {
		t = simdev_next_event_ns(d);
		while (simdev_tx(d, t, out, sizeof(out)) > 0)
			;
	}
	simdev_free(d);
	return 0;
}
