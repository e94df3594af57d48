/* The virtual ESP32: what it sends. Responses and text go to a timed
 * queue; the fault knobs (noise, corruption) act here. */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>

#include "simdev_int.h"

static const char *const noise_lines[] = {
	"\r\n",
	"ets Jun  8 2016 00:22:57\r\n",
	"I (12) boot: noise on the line\r\n",
	"\x1b[0;32m~~\x1b[0m\r\n",
	"invalid header: 0xffffffff\r\n",
};

static uint64_t rng_next(struct simdev *d)
{
	/* splitmix64: tiny, seedable, good enough to pick bits to flip */
	uint64_t z = (d->rng += 0x9E3779B97F4A7C15ull);

	z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
	z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
	return z ^ (z >> 31);
}

static double rng_unit(struct simdev *d)
{
	return (double)(rng_next(d) >> 11) / 9007199254740992.0;
}

static int txq_push(struct simdev *d, uint8_t b, uint64_t t)
{
	if (d->txq_head + d->txq_len == d->txq_cap) {
		if (d->txq_head) {
			memmove(d->txq, d->txq + d->txq_head, d->txq_len * sizeof(*d->txq));
			d->txq_head = 0;
		}
		if (d->txq_len == d->txq_cap) {
			size_t cap = d->txq_cap ? d->txq_cap * 2 : 1024;
			struct txbyte *n;

			/* a host that never reads must not grow us without bound */
			if (cap > (1u << 22))
				return -1;
			n = realloc(d->txq, cap * sizeof(*n));
			if (!n)
				return -1;
			d->txq = n;
			d->txq_cap = cap;
		}
	}
	d->txq[d->txq_head + d->txq_len++] = (struct txbyte){ .t = t, .b = b };
	return 0;
}

/* Queue raw bytes on the device's TX line starting no earlier than t. */
static void emit(struct simdev *d, uint64_t t, const uint8_t *buf, size_t len, int corrupt)
{
	uint64_t bt = byte_ns(d);
	int garble = baud_mismatch(d);

	d->tx_free = max64(d->tx_free, t);
	for (size_t i = 0; i < len; i++) {
		uint8_t b = buf[i];

		if (corrupt && d->cfg.corrupt_rate > 0 && rng_unit(d) < d->cfg.corrupt_rate) {
			b ^= (uint8_t)(1u << (rng_next(d) & 7));
			d->stats.corrupted++;
		}
		if (garble) {
			/* received at the wrong rate: noise, never a frame delimiter */
			b = (uint8_t)(b ^ 0x5A);
			if (b == SLIP_END || b == SLIP_ESC)
				b = 0x00;
			d->stats.garbled++;
		}
		d->tx_free += bt;
		if (txq_push(d, b, d->tx_free) == 0)
			d->stats.bytes_tx++;
	}
}

void sd_emit_text(struct simdev *d, uint64_t t, const char *s)
{
	emit(d, t, (const uint8_t *)s, strlen(s), 0);
}

/* Response: 01, cmd, u16 len, u32 value, data, then the 4 status bytes
 * (status, error, 2 reserved) every ESP32-family ROM sends. */
void sd_respond(struct simdev *d, uint64_t t, uint8_t cmd, uint32_t val, const uint8_t *data,
		    size_t dlen, uint8_t status, uint8_t error)
{
	uint8_t pkt[8 + 64 + 4];
	uint8_t enc[SLIP_ENCODED_MAX(sizeof(pkt))];
	size_t n = 8 + dlen + 4, elen;

	if (dlen > 64)
		return;
	pkt[0] = 0x01;
	pkt[1] = cmd;
	pkt[2] = (uint8_t)(dlen + 4);
	pkt[3] = (uint8_t)((dlen + 4) >> 8);
	le_put32(pkt + 4, val);
	if (dlen)
		memcpy(pkt + 8, data, dlen);
	pkt[8 + dlen] = status;
	pkt[9 + dlen] = error;
	pkt[10 + dlen] = 0;
	pkt[11 + dlen] = 0;
	if (d->cfg.garbage) {
		const char *line = noise_lines[rng_next(d) % (sizeof(noise_lines) / sizeof(noise_lines[0]))];

		sd_emit_text(d, t, line);
	}
	/* the ROM keeps this header: an unknown command is answered under it */
	d->last_op = cmd;
	d->last_val = val;
	elen = slip_encode(pkt, n, enc);
	emit(d, t, enc, elen, 1);
	d->stats.responses++;
	d->stats.last_status = status;
	d->stats.last_error = error;
}

void sd_respond_err(struct simdev *d, uint64_t t, uint8_t cmd, uint8_t error)
{
	sd_respond(d, t, cmd, 0, NULL, 0, 1, error);
}

