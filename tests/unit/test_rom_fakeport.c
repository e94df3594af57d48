#include <stdlib.h>
#include <string.h>

#include "espfab/le.h"
#include "espfab/slip.h"
#include "test_rom_fakeport.h"

static struct fakeport *F(struct port *p)
{
	return (struct fakeport *)p;
}

static int fp_read(struct port *p, uint8_t *buf, size_t len, size_t *got, uint64_t deadline)
{
	struct fakeport *fp = F(p);
	size_t n;

	*got = 0;
	if (p->cancelled)
		return PORT_ECANCELED;
	if (fp->gone)
		return PORT_ENODEV;
	if (fp->rx_pos == fp->rx_len) {
		if (fp->now < deadline)
			fp->now = deadline;
		return PORT_ETIMEDOUT;
	}
	n = fp->rx_len - fp->rx_pos;
	if (n > len)
		n = len;
	if (fp->read_cost_ms) {
		if (n > 32)
			n = 32;
		fp->now += fp->read_cost_ms;
	}
	memcpy(buf, fp->rx + fp->rx_pos, n);
	fp->rx_pos += n;
	*got = n;
	return PORT_OK;
}

static int fp_write(struct port *p, const uint8_t *buf, size_t len, uint64_t deadline)
{
	struct fakeport *fp = F(p);

	(void)deadline;
	if (p->cancelled)
		return PORT_ECANCELED;
	if (fp->gone)
		return PORT_ENODEV;
	for (size_t i = 0; i < len; i++) {
		uint8_t b = buf[i];
		if (fp->tx_len < FP_MAX)
			fp->tx[fp->tx_len++] = b;
		if (!fp->req_in) {
			if (b == SLIP_END) {
				fp->req_in = 1;
				fp->req_len = 0;
			}
			continue;
		}
		if (b == SLIP_END) {
			if (fp->req_len == 0)
				continue;
			fp->req_in = 0;
			fp->requests++;
			fp->now += fp->latency_ms;
			if (fp->respond)
				fp->respond(fp, fp->req, fp->req_len);
			continue;
		}
		if (fp->req_esc) {
			fp->req_esc = 0;
			b = b == SLIP_ESC_END ? SLIP_END : SLIP_ESC;
		} else if (b == SLIP_ESC) {
			fp->req_esc = 1;
			continue;
		}
		if (fp->req_len < sizeof(fp->req))
			fp->req[fp->req_len++] = b;
	}
	return PORT_OK;
}

static int fp_set_baud(struct port *p, uint32_t baud)
{
	p->baud = baud;
	return PORT_OK;
}

static int fp_set_lines(struct port *p, int dtr, int rts)
{
	struct fakeport *fp = F(p);

	if (fp->no_lines)
		return PORT_EINVAL;
	if (fp->gone)
		return PORT_ENODEV;
	if (dtr >= 0)
		fp->dtr = dtr;
	if (rts >= 0)
		fp->rts = rts;
	if (fp->nlines < FP_LINES_MAX)
		fp->lines[fp->nlines++] = (struct fp_line){fp->dtr, fp->rts, fp->now};
	return PORT_OK;
}

static int fp_flush_input(struct port *p)
{
	struct fakeport *fp = F(p);

	fp->flushes++;
	fp->rx_pos = fp->rx_len = 0;
	return PORT_OK;
}

static int fp_reopen(struct port *p, uint64_t deadline)
{
	struct fakeport *fp = F(p);

	(void)deadline;
	fp->reopens++;
	fp->gone = 0;
	return PORT_OK;
}

static void fp_sleep(struct port *p, uint32_t ms)
{
	F(p)->now += ms;
}

static uint64_t fp_now(struct port *p)
{
	return F(p)->now;
}

static void fp_close(struct port *p)
{
	free(p);
}

static const struct port_ops fp_ops = {
	.read = fp_read,
	.write = fp_write,
	.set_baud = fp_set_baud,
	.set_lines = fp_set_lines,
	.flush_input = fp_flush_input,
	.reopen = fp_reopen,
	.sleep_ms = fp_sleep,
	.now_ms = fp_now,
	.close = fp_close,
};

struct fakeport *fp_new(fp_responder respond, void *user)
{
	struct fakeport *fp = calloc(1, sizeof(*fp));

	if (!fp)
		abort();
	fp->base.ops = &fp_ops;
	strcpy(fp->base.name, "fake");
	fp->base.baud = 115200;
	fp->base.wake_fd = -1;
	fp->respond = respond;
	fp->user = user;
	fp->now = 1000;
	return fp;
}

void fp_queue(struct fakeport *fp, const uint8_t *bytes, size_t len)
{
	if (fp->rx_pos == fp->rx_len)
		fp->rx_pos = fp->rx_len = 0;
	if (fp->rx_len + len > FP_MAX)
		abort();
	memcpy(fp->rx + fp->rx_len, bytes, len);
	fp->rx_len += len;
}

void fp_reply(struct fakeport *fp, uint8_t cmd, uint32_t value, const uint8_t *data, size_t dlen,
	      uint8_t status, uint8_t err)
{
	uint8_t raw[8 + 512 + 4], enc[SLIP_ENCODED_MAX(sizeof(raw))];
	size_t n = 0, blen = dlen + 4;

	raw[n++] = 0x01;
	raw[n++] = cmd;
	raw[n++] = (uint8_t)blen;
	raw[n++] = (uint8_t)(blen >> 8);
	le_put32(raw + n, value);
	n += 4;
	if (dlen)
		memcpy(raw + n, data, dlen);
	n += dlen;
	raw[n++] = status;
	raw[n++] = err;
	raw[n++] = 0;
	raw[n++] = 0;
	fp_queue(fp, enc, slip_encode(raw, n, enc));
}

size_t fp_request(const struct fakeport *fp, unsigned idx, uint8_t *out, size_t cap)
{
	struct slip_decoder d;
	unsigned seen = 0;

	slip_decoder_init(&d, out, cap);
	for (size_t i = 0; i < fp->tx_len; i++)
		if (slip_feed(&d, fp->tx[i]) == SLIP_FRAME && seen++ == idx)
			return d.len;
	return 0;
}
