#include <string.h>

#include "espfab/slip.h"

size_t slip_encode(const uint8_t *in, size_t len, uint8_t *out)
{
	size_t o = 0;

	out[o++] = SLIP_END;
	for (size_t i = 0; i < len; i++) {
		if (in[i] == SLIP_END) {
			out[o++] = SLIP_ESC;
			out[o++] = SLIP_ESC_END;
		} else if (in[i] == SLIP_ESC) {
			out[o++] = SLIP_ESC;
			out[o++] = SLIP_ESC_ESC;
		} else {
			out[o++] = in[i];
		}
	}
	out[o++] = SLIP_END;
	return o;
}

void slip_decoder_init(struct slip_decoder *d, uint8_t *buf, size_t cap)
{
	memset(d, 0, sizeof(*d));
	d->buf = buf;
	d->cap = cap;
}

void slip_decoder_reset(struct slip_decoder *d)
{
	d->len = 0;
	d->in_frame = 0;
	d->escaped = 0;
}

static void keep_noise(struct slip_decoder *d, uint8_t byte)
{
	if (d->noise_muted)
		return;
	d->noise[d->noise_head] = (char)byte;
	d->noise_head = (d->noise_head + 1) % SLIP_NOISE_MAX;
	if (d->noise_len < (size_t)-1)
		d->noise_len++;
}

/* in_frame values: 0 between frames, 1 inside a frame, DROPPING after a
 * bad escape or an overflow until that frame's closing END. */
#define DROPPING 2

enum slip_status slip_feed(struct slip_decoder *d, uint8_t byte)
{
	if (d->in_frame == DROPPING) {
		/* The rest of a broken frame is neither a frame nor boot-log
		 * text. Resuming "between frames" at once (the old behaviour)
		 * made its closing END open a frame, so text between frames
		 * became a frame and the next real frame was taken for text. */
		if (byte == SLIP_END)
			d->in_frame = 0;
		return SLIP_MORE;
	}
	if (!d->in_frame) {
		if (byte == SLIP_END) {
			d->in_frame = 1;
			d->len = 0;
			d->escaped = 0;
		} else {
			keep_noise(d, byte);
		}
		return SLIP_MORE;
	}
	if (byte == SLIP_END) {
		/* An empty frame is the start of the next one: the ROM may send
		 * extra 0xC0s (e.g. after a baud change), so stay in frame. */
		if (d->len == 0 && !d->escaped)
			return SLIP_MORE;
		d->in_frame = 0;
		if (d->escaped) {
			d->escaped = 0;
			return SLIP_EBADESC;
		}
		return SLIP_FRAME;
	}
	if (d->escaped) {
		d->escaped = 0;
		if (byte == SLIP_ESC_END)
			byte = SLIP_END;
		else if (byte == SLIP_ESC_ESC)
			byte = SLIP_ESC;
		else {
			slip_decoder_reset(d);
			d->in_frame = DROPPING;
			return SLIP_EBADESC;
		}
	} else if (byte == SLIP_ESC) {
		d->escaped = 1;
		return SLIP_MORE;
	}
	if (d->len >= d->cap) {
		slip_decoder_reset(d);
		d->in_frame = DROPPING;
		return SLIP_EOVERFLOW;
	}
	d->buf[d->len++] = byte;
	return SLIP_MORE;
}

void slip_noise_tail(const struct slip_decoder *d, char *out, size_t outsz)
{
	size_t n = d->noise_len < SLIP_NOISE_MAX ? d->noise_len : SLIP_NOISE_MAX;
	size_t start = (d->noise_head + SLIP_NOISE_MAX - n) % SLIP_NOISE_MAX;
	size_t o = 0;

	if (!outsz)
		return;
	for (size_t i = 0; i < n && o + 1 < outsz; i++) {
		char c = d->noise[(start + i) % SLIP_NOISE_MAX];
		/* keep the text readable in one log line */
		out[o++] = (c >= 0x20 && c < 0x7f) ? c : (c == '\n' || c == '\r') ? ' ' : '.';
	}
	out[o] = '\0';
}
