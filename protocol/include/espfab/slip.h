/* SLIP framing as the ESP ROM loader uses it (RFC 1055 with 0xC0 at both ends).
 *
 * Encoding is a pure function. Decoding is a byte-at-a-time state machine with
 * a caller-owned buffer: bytes outside frames (boot-log text) are kept in a
 * small ring so a connect failure can show what the chip printed.
 */
#ifndef ESPFAB_SLIP_H
#define ESPFAB_SLIP_H

#include <stddef.h>
#include <stdint.h>

#define SLIP_END 0xC0
#define SLIP_ESC 0xDB
#define SLIP_ESC_END 0xDC
#define SLIP_ESC_ESC 0xDD

/* Worst case encoded size of a payload of len bytes. */
#define SLIP_ENCODED_MAX(len) (2 * (size_t)(len) + 2)

/* Encode len bytes of in into out (which holds SLIP_ENCODED_MAX(len) bytes).
 * Returns the number of bytes written. */
size_t slip_encode(const uint8_t *in, size_t len, uint8_t *out);

enum slip_status {
	SLIP_MORE = 0,      /* byte consumed, no frame yet */
	SLIP_FRAME = 1,     /* a non-empty frame is in buf[0..len) */
	SLIP_EOVERFLOW = -1, /* frame larger than cap: dropped, decoder resynchronises */
	SLIP_EBADESC = -2,  /* DB followed by something other than DC/DD: frame dropped */
};

#define SLIP_NOISE_MAX 256

/* Caller allocates; slip_decoder_init sets it up over a caller-owned buffer. */
struct slip_decoder {
	uint8_t *buf;
	size_t cap;
	size_t len;
	int in_frame;
	int escaped;
	/* last bytes seen outside frames, oldest first once wrapped */
	char noise[SLIP_NOISE_MAX];
	size_t noise_len;  /* total bytes ever seen outside frames (saturating) */
	size_t noise_head; /* next write position in noise[] */
	/* Set by the caller while a reply may carry secrets (flash read back):
	 * a lost opening END would make the frame's bytes look like text
	 * outside frames, so none is kept meanwhile. */
	int noise_muted;
};

void slip_decoder_init(struct slip_decoder *d, uint8_t *buf, size_t cap);
/* Forget any partial frame (after a timeout or a baud change). */
void slip_decoder_reset(struct slip_decoder *d);
/* Feed one byte. On SLIP_FRAME the frame stays in d->buf until the next feed. */
enum slip_status slip_feed(struct slip_decoder *d, uint8_t byte);
/* Copy the last outside-frame bytes (printable, NUL-terminated) into out. */
void slip_noise_tail(const struct slip_decoder *d, char *out, size_t outsz);

#endif
