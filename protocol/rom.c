/* ROM loader context: framing, one command and its reply, over the port seam. */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "espfab/err.h"
#include "espfab/le.h"
#include "rom_int.h"

int rom_new(struct port *p, struct rom **out)
{
	struct rom *r;

	*out = NULL;
	if (!p)
		return ROM_EINVAL;
	r = calloc(1, sizeof(*r));
	if (!r)
		return ROM_ENOMEM;
	r->port = p;
	slip_decoder_init(&r->dec, r->frame, sizeof(r->frame));
	*out = r;
	return ROM_OK;
}

void rom_free(struct rom *r)
{
	free(r);
}

struct port *rom_port(const struct rom *r)
{
	return r->port;
}

const struct rom_diag *rom_diag(const struct rom *r)
{
	return &r->diag;
}

const struct rom_stats *rom_stats(const struct rom *r)
{
	return &r->stats;
}

void rom_note_retry(struct rom *r)
{
	r->stats.retries++;
}

void rom_diag_clear(struct rom *r)
{
	uint8_t cmd = r->diag.last_cmd;

	memset(&r->diag, 0, sizeof(r->diag));
	r->diag.last_cmd = cmd;
}

int rom_fail(struct rom *r, int err, const char *fmt, ...)
{
	va_list ap;

	r->diag.error = err;
	va_start(ap, fmt);
	err_vformat(r->diag.msg, sizeof(r->diag.msg), fmt, ap);
	va_end(ap);
	slip_noise_tail(&r->dec, r->diag.boot_log, sizeof(r->diag.boot_log));
	return err;
}

uint8_t rom_checksum(const uint8_t *data, size_t len)
{
	uint8_t c = ROM_CHECKSUM_SEED;

	for (size_t i = 0; i < len; i++)
		c ^= data[i];
	return c;
}

size_t rom_build_request(uint8_t cmd, const uint8_t *data, uint16_t len, uint32_t chk, uint8_t *out)
{
	out[0] = 0x00; /* direction: request */
	out[1] = cmd;
	le_put16(out + 2, len);
	le_put32(out + 4, chk);
	if (len)
		memcpy(out + 8, data, len);
	return 8 + (size_t)len;
}

int rom_parse_response(const uint8_t *frame, size_t len, uint8_t cmd, size_t data_len,
		       struct rom_response *out)
{
	const uint8_t *body;
	size_t blen;

	memset(out, 0, sizeof(*out));
	if (len < 8 || frame[0] != 0x01)
		return 1;
	if (frame[1] != cmd) {
		/* A command the ROM does not know is answered under its last
		 * response header: the command byte (and value) of the last
		 * reply it sent, then status 01 05 (esptool loader.py command(),
		 * v4.8.1: op_ret != op, data[0] != 0, data[1] == 0x05 is
		 * UnsupportedCommandError). Anything else with another command
		 * byte is a stale reply (extra SYNC answers, a late reply to a
		 * timed-out command): not ours. */
		if (len >= 10 && frame[8] != 0 && frame[9] == ROM_ERR_INVALID_MSG) {
			out->cmd = frame[1];
			out->len = le_get16(frame + 2);
			out->value = le_get32(frame + 4);
			out->data = frame + 8;
			out->have_status = 1;
			out->status = frame[8];
			out->rom_error = frame[9];
			return ROM_PARSE_UNSUPPORTED;
		}
		return 1;
	}
	out->cmd = frame[1];
	out->len = le_get16(frame + 2);
	out->value = le_get32(frame + 4);
	if (out->len != len - 8)
		return ROM_EPROTO;
	body = frame + 8;
	blen = len - 8;
	if (data_len == ROM_DATA_LEN_AUTO) {
		/* esptool's rule for variable replies: the status is the
		 * last ROM_STATUS_LEN bytes */
		if (blen >= ROM_STATUS_LEN)
			data_len = blen - ROM_STATUS_LEN;
		else if (blen >= 2 && body[0] != 0)
			data_len = 0;
		else
			return ROM_EPROTO;
	}
	if (blen >= data_len + 2) {
		/* The status sits right after the data the command defines
		 * (4 bytes on ESP32-family ROMs, 2 on stubs): never at len-2. */
		out->data = body;
		out->data_len = data_len;
		out->status = body[data_len];
		out->rom_error = body[data_len + 1];
		out->have_status = 1;
		return 0;
	}
	if (blen >= 2 && body[0] != 0) {
		/* A failure reply carries no data, only the status bytes. */
		out->data = body;
		out->data_len = 0;
		out->status = body[0];
		out->rom_error = body[1];
		out->have_status = 1;
		return 0;
	}
	return ROM_EPROTO;
}

int rom_map_port_err(struct rom *r, int perr, const char *what)
{
	const char *cmd = rom_cmd_name(r->diag.last_cmd);

	switch (perr) {
	case PORT_OK:
		return ROM_OK;
	case PORT_ETIMEDOUT:
		return rom_fail(r, ROM_ETIMEDOUT, "%s: no reply to %s before the deadline", what, cmd);
	case PORT_ECANCELED:
		return rom_fail(r, ROM_ECANCELED, "%s: cancelled during %s", what, cmd);
	case PORT_EIO:
		r->diag.sys_errno = r->port->last_errno;
		return rom_fail(r, ROM_EIO, "%s: I/O error during %s: %s", what, cmd,
				strerror(r->port->last_errno ? r->port->last_errno : EIO));
	case PORT_ENODEV:
		return rom_fail(r, ROM_ENODEV, "%s: port went away during %s", what, cmd);
	case PORT_EINVAL:
		return rom_fail(r, ROM_EINVAL, "%s: the port refused the operation during %s", what, cmd);
	}
	return rom_fail(r, ROM_EIO, "%s: port error %d", what, perr);
}

static void account(struct rom *r, size_t n, int tx)
{
	uint32_t baud = r->port->baud ? r->port->baud : 115200;

	if (tx)
		r->stats.tx_bytes += n;
	else
		r->stats.rx_bytes += n;
	r->stats.wire_s += (double)n * 10.0 / (double)baud;
}

void rom_forget_input(struct rom *r)
{
	r->rx_pos = r->rx_len = 0;
	slip_decoder_reset(&r->dec);
}

/* Next complete frame before deadline: 0 with *flen, or a negative port code. */
#define ROM_FRAME_BANNER 1 /* rom_next_frame: no frame, but the ROM just said it is ready */

static int banner_arrived(struct rom *r)
{
	char tail[64];

	if (!r->watch_banner || r->dec.noise_len == r->noise_seen)
		return 0;
	r->noise_seen = r->dec.noise_len;
	slip_noise_tail(&r->dec, tail, sizeof(tail));
	return strstr(tail, "waiting for download") != NULL;
}

/* Next complete frame before deadline: 0 with *flen, ROM_FRAME_BANNER, or a
 * negative port code. */
int rom_next_frame(struct rom *r, uint64_t deadline, size_t *flen)
{
	for (;;) {
		while (r->rx_pos < r->rx_len) {
			enum slip_status s = slip_feed(&r->dec, r->rx[r->rx_pos++]);
			if (s == SLIP_FRAME) {
				*flen = r->dec.len;
				return PORT_OK;
			}
			/* SLIP_EOVERFLOW / SLIP_EBADESC: noise, the decoder resyncs */
		}
		if (banner_arrived(r))
			return ROM_FRAME_BANNER;
		/* a device streaming noise must not keep us past the deadline */
		if (r->port->ops->now_ms(r->port) >= deadline)
			return PORT_ETIMEDOUT;
		size_t got = 0;
		int e = r->port->ops->read(r->port, r->rx, sizeof(r->rx), &got, deadline);
		if (e)
			return e;
		account(r, got, 0);
		r->rx_pos = 0;
		r->rx_len = got;
	}
}

int rom_drain(struct rom *r, uint32_t quiet_ms, uint32_t max_ms)
{
	const struct port_ops *o = r->port->ops;
	uint64_t start = o->now_ms(r->port);
	uint64_t end = start + max_ms;

	for (;;) {
		uint64_t now = o->now_ms(r->port);
		uint64_t dl = now + quiet_ms < end ? now + quiet_ms : end;
		size_t got = 0;
		int e;

		if (now >= end)
			break;
		e = o->read(r->port, r->rx, sizeof(r->rx), &got, dl);
		if (e == PORT_ETIMEDOUT)
			break;
		if (e)
			return rom_map_port_err(r, e, "drain");
		account(r, got, 0);
		/* keep the boot-log text for diagnostics, drop frames */
		for (size_t i = 0; i < got; i++)
			(void)slip_feed(&r->dec, r->rx[i]);
	}
	rom_forget_input(r);
	r->dirty = 0;
	return ROM_OK;
}

int rom_send_packet(struct rom *r, uint8_t cmd, const uint8_t *data, size_t len, uint32_t chk,
		       uint64_t deadline)
{
	size_t n, enc;
	int e;

	n = rom_build_request(cmd, data, (uint16_t)len, chk, r->pkt);
	enc = slip_encode(r->pkt, n, r->tx);
	e = r->port->ops->write(r->port, r->tx, enc, deadline);
	if (e)
		return rom_map_port_err(r, e, "send");
	account(r, enc, 1);
	return ROM_OK;
}

int rom_command(struct rom *r, uint8_t cmd, const uint8_t *data, size_t len, uint32_t chk,
		size_t resp_data_len, uint32_t timeout_ms, struct rom_response *resp)
{
	const struct port_ops *o = r->port->ops;
	struct rom_response tmp;
	uint64_t deadline;
	int e;

	if (!resp)
		resp = &tmp;
	memset(resp, 0, sizeof(*resp));
	if (len > ROM_PKT_MAX - 8)
		return rom_fail(r, ROM_EINVAL, "%s: request of %zu bytes is too large", rom_cmd_name(cmd), len);
	if (r->port->cancelled)
		return rom_fail(r, ROM_ECANCELED, "cancelled before %s", rom_cmd_name(cmd));
	if (r->dirty) {
		/* The previous command failed: its reply (or the ROM's repeated
		 * error replies) may still arrive; never take it for ours. */
		e = rom_drain(r, 15, 300);
		if (e)
			return e;
	}
	rom_diag_clear(r);
	r->diag.last_cmd = cmd;
	deadline = o->now_ms(r->port) + timeout_ms;
	e = rom_send_packet(r, cmd, data, len, chk, deadline);
	if (e)
		goto fail;
	/* A SYNC that reached the chip while it was still booting is lost; the
	 * ROM prints "waiting for download" when it is ready: send it again
	 * then instead of sitting out the timeout. */
	r->watch_banner = cmd == ROM_CMD_SYNC;
	r->noise_seen = r->dec.noise_len;
	for (int resent = 0;;) {
		size_t flen = 0;
		int pe = rom_next_frame(r, deadline, &flen);
		if (pe == ROM_FRAME_BANNER) {
			if (resent++ < 2) {
				deadline = o->now_ms(r->port) + timeout_ms;
				if ((e = rom_send_packet(r, cmd, data, len, chk, deadline)))
					goto fail;
			}
			continue;
		}
		if (pe) {
			e = rom_map_port_err(r, pe, rom_cmd_name(cmd));
			goto fail;
		}
		pe = rom_parse_response(r->frame, flen, cmd, resp_data_len, resp);
		if (pe == ROM_PARSE_UNSUPPORTED) {
			/* the ROM's answer under another header: its status
			 * (01 05) is handled below like any failure reply */
			r->stats.unsupported++;
			break;
		}
		if (pe == 1) {
			r->stats.stale++;
			continue;
		}
		if (pe < 0) {
			e = rom_fail(r, ROM_EPROTO, "%s: malformed reply (%zu bytes)", rom_cmd_name(cmd), flen);
			goto fail;
		}
		break;
	}
	r->watch_banner = 0;
	r->diag.have_status = resp->have_status;
	r->diag.status = resp->status;
	r->diag.rom_error = resp->rom_error;
	if (resp->status != 0) {
		if (resp->cmd != cmd) {
			e = rom_fail(r, ROM_EUNSUPPORTED,
				     "%s: not supported by this ROM (status 0x%02x, error 0x%02x under the header of %s)",
				     rom_cmd_name(cmd), resp->status, resp->rom_error, rom_cmd_name(resp->cmd));
		} else if (resp->rom_error == ROM_ERR_INVALID_MSG) {
			/* Unknown commands make the ROM answer with this error,
			 * possibly several times: drain before the next command. */
			e = rom_fail(r, ROM_EUNSUPPORTED, "%s: the ROM rejected it (status 0x%02x, error 0x%02x: %s)",
				     rom_cmd_name(cmd), resp->status, resp->rom_error,
				     rom_error_byte_name(resp->rom_error));
		} else {
			e = rom_fail(r, ROM_EFAILED, "%s failed: status 0x%02x, error 0x%02x (%s)",
				     rom_cmd_name(cmd), resp->status, resp->rom_error,
				     rom_error_byte_name(resp->rom_error));
		}
		goto fail;
	}
	return ROM_OK;
fail:
	r->watch_banner = 0;
	if (e != ROM_ECANCELED && e != ROM_ENODEV)
		r->dirty = 1;
	return e;
}
