/* ROM loader commands over SLIP over the port seam. */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "espfab/rom.h"
#include "espfab/slip.h"
#include "le.h"

/* Largest frame we accept from the device: READ_FLASH_SLOW's 64 bytes plus
 * header and status fit with room; anything bigger is noise. */
#define ROM_FRAME_MAX 1024
/* Largest request: FLASH_DATA header (16) + one block. */
#define ROM_PKT_MAX (8 + 16 + ROM_FLASH_BLOCK)

struct rom {
	struct port *port;
	struct slip_decoder dec;
	uint8_t frame[ROM_FRAME_MAX];
	uint8_t rx[2048];
	size_t rx_pos, rx_len;
	uint8_t pkt[ROM_PKT_MAX];
	uint8_t tx[SLIP_ENCODED_MAX(ROM_PKT_MAX)];
	int dirty; /* a reply may still be in flight: drain before the next command */
	int watch_banner;  /* next_frame reports the ROM's "waiting for download" */
	size_t noise_seen; /* dec.noise_len already looked at */
	struct rom_diag diag;
	struct rom_stats stats;
};

const char *rom_strerror(int err)
{
	switch (err) {
	case ROM_OK: return "ok";
	case ROM_ETIMEDOUT: return "timed out";
	case ROM_ECANCELED: return "cancelled";
	case ROM_EIO: return "I/O error";
	case ROM_ENODEV: return "device went away";
	case ROM_EINVAL: return "invalid argument";
	case ROM_ENOSYNC: return "no answer from the ROM loader";
	case ROM_EFAILED: return "the ROM reported a failure";
	case ROM_EUNSUPPORTED: return "command not supported by this ROM";
	case ROM_EPROTO: return "malformed reply";
	case ROM_ECHIP: return "unsupported chip";
	case ROM_ESECURE: return "refused in secure download mode";
	case ROM_EVERIFY: return "verification failed";
	case ROM_ENOMEM: return "out of memory";
	case ROM_ERANGE: return "region misaligned or out of range";
	case ROM_ESTUB: return "a flasher stub answered, not the ROM";
	case ROM_EFLASHID: return "SPI flash not detected";
	case ROM_ENOLINES: return "port has no DTR/RTS lines";
	case ROM_EDEFLATE: return "compression failed";
	case ROM_EPORT: return "cannot open port";
	}
	return "unknown error";
}

const char *rom_error_name(int err)
{
	switch (err) {
	case ROM_OK: return "ROM_OK";
	case ROM_ETIMEDOUT: return "ROM_ETIMEDOUT";
	case ROM_ECANCELED: return "ROM_ECANCELED";
	case ROM_EIO: return "ROM_EIO";
	case ROM_ENODEV: return "ROM_ENODEV";
	case ROM_EINVAL: return "ROM_EINVAL";
	case ROM_ENOSYNC: return "ROM_ENOSYNC";
	case ROM_EFAILED: return "ROM_EFAILED";
	case ROM_EUNSUPPORTED: return "ROM_EUNSUPPORTED";
	case ROM_EPROTO: return "ROM_EPROTO";
	case ROM_ECHIP: return "ROM_ECHIP";
	case ROM_ESECURE: return "ROM_ESECURE";
	case ROM_EVERIFY: return "ROM_EVERIFY";
	case ROM_ENOMEM: return "ROM_ENOMEM";
	case ROM_ERANGE: return "ROM_ERANGE";
	case ROM_ESTUB: return "ROM_ESTUB";
	case ROM_EFLASHID: return "ROM_EFLASHID";
	case ROM_ENOLINES: return "ROM_ENOLINES";
	case ROM_EDEFLATE: return "ROM_EDEFLATE";
	case ROM_EPORT: return "ROM_EPORT";
	}
	return "ROM_E?";
}

const char *rom_cmd_name(uint8_t cmd)
{
	switch (cmd) {
	case ROM_CMD_FLASH_BEGIN: return "FLASH_BEGIN";
	case ROM_CMD_FLASH_DATA: return "FLASH_DATA";
	case ROM_CMD_FLASH_END: return "FLASH_END";
	case ROM_CMD_MEM_BEGIN: return "MEM_BEGIN";
	case ROM_CMD_MEM_END: return "MEM_END";
	case ROM_CMD_MEM_DATA: return "MEM_DATA";
	case ROM_CMD_SYNC: return "SYNC";
	case ROM_CMD_WRITE_REG: return "WRITE_REG";
	case ROM_CMD_READ_REG: return "READ_REG";
	case ROM_CMD_SPI_SET_PARAMS: return "SPI_SET_PARAMS";
	case ROM_CMD_SPI_ATTACH: return "SPI_ATTACH";
	case ROM_CMD_READ_FLASH_SLOW: return "READ_FLASH_SLOW";
	case ROM_CMD_CHANGE_BAUDRATE: return "CHANGE_BAUDRATE";
	case ROM_CMD_FLASH_DEFL_BEGIN: return "FLASH_DEFL_BEGIN";
	case ROM_CMD_FLASH_DEFL_DATA: return "FLASH_DEFL_DATA";
	case ROM_CMD_FLASH_DEFL_END: return "FLASH_DEFL_END";
	case ROM_CMD_SPI_FLASH_MD5: return "SPI_FLASH_MD5";
	case ROM_CMD_GET_SECURITY_INFO: return "GET_SECURITY_INFO";
	}
	return "?";
}

const char *rom_error_byte_name(uint8_t err)
{
	/* The ROM's error codes as Espressif's serial protocol document lists them. */
	switch (err) {
	case ROM_ERR_INVALID_MSG: return "received message is invalid";
	case ROM_ERR_FAILED_ACT: return "failed to act on received message";
	case ROM_ERR_BAD_CRC: return "invalid CRC in message";
	case ROM_ERR_FLASH_WRITE: return "flash write error";
	case ROM_ERR_FLASH_READ: return "flash read error";
	case ROM_ERR_READ_LEN: return "flash read length error";
	case ROM_ERR_DEFLATE: return "deflate error";
	}
	return "?";
}

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
	vsnprintf(r->diag.msg, sizeof(r->diag.msg), fmt, ap);
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
	/* Stale replies (extra SYNC answers, a late reply to a timed-out
	 * command) and frames from the chip's own chatter are normal: only a
	 * frame with direction 0x01 and our command byte is ours. */
	if (len < 8 || frame[0] != 0x01 || frame[1] != cmd)
		return 1;
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

static int map_port_err(struct rom *r, int perr, const char *what)
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

static void forget_input(struct rom *r)
{
	r->rx_pos = r->rx_len = 0;
	slip_decoder_reset(&r->dec);
}

/* Next complete frame before deadline: 0 with *flen, or a negative port code. */
#define FRAME_BANNER 1 /* next_frame: no frame, but the ROM just said it is ready */

static int banner_arrived(struct rom *r)
{
	char tail[64];

	if (!r->watch_banner || r->dec.noise_len == r->noise_seen)
		return 0;
	r->noise_seen = r->dec.noise_len;
	slip_noise_tail(&r->dec, tail, sizeof(tail));
	return strstr(tail, "waiting for download") != NULL;
}

/* Next complete frame before deadline: 0 with *flen, FRAME_BANNER, or a
 * negative port code. */
static int next_frame(struct rom *r, uint64_t deadline, size_t *flen)
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
			return FRAME_BANNER;
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
			return map_port_err(r, e, "drain");
		account(r, got, 0);
		/* keep the boot-log text for diagnostics, drop frames */
		for (size_t i = 0; i < got; i++)
			(void)slip_feed(&r->dec, r->rx[i]);
	}
	forget_input(r);
	r->dirty = 0;
	return ROM_OK;
}

static int send_packet(struct rom *r, uint8_t cmd, const uint8_t *data, size_t len, uint32_t chk,
		       uint64_t deadline)
{
	size_t n, enc;
	int e;

	n = rom_build_request(cmd, data, (uint16_t)len, chk, r->pkt);
	enc = slip_encode(r->pkt, n, r->tx);
	e = r->port->ops->write(r->port, r->tx, enc, deadline);
	if (e)
		return map_port_err(r, e, "send");
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
	e = send_packet(r, cmd, data, len, chk, deadline);
	if (e)
		goto fail;
	/* A SYNC that reached the chip while it was still booting is lost; the
	 * ROM prints "waiting for download" when it is ready: send it again
	 * then instead of sitting out the timeout. */
	r->watch_banner = cmd == ROM_CMD_SYNC;
	r->noise_seen = r->dec.noise_len;
	for (int resent = 0;;) {
		size_t flen = 0;
		int pe = next_frame(r, deadline, &flen);
		if (pe == FRAME_BANNER) {
			if (resent++ < 2) {
				deadline = o->now_ms(r->port) + timeout_ms;
				if ((e = send_packet(r, cmd, data, len, chk, deadline)))
					goto fail;
			}
			continue;
		}
		if (pe) {
			e = map_port_err(r, pe, rom_cmd_name(cmd));
			goto fail;
		}
		pe = rom_parse_response(r->frame, flen, cmd, resp_data_len, resp);
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
		if (resp->rom_error == ROM_ERR_INVALID_MSG) {
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
		r->diag.have_status = 1;
		r->diag.status = resp->status;
		r->diag.rom_error = resp->rom_error;
		goto fail;
	}
	return ROM_OK;
fail:
	r->watch_banner = 0;
	if (e != ROM_ECANCELED && e != ROM_ENODEV)
		r->dirty = 1;
	return e;
}

int rom_sync(struct rom *r)
{
	const struct port_ops *o = r->port->ops;
	uint8_t payload[36];
	struct rom_response resp;
	int e, extra = 0, rom_value = 0;

	payload[0] = 0x07;
	payload[1] = 0x07;
	payload[2] = 0x12;
	payload[3] = 0x20;
	memset(payload + 4, 0x55, 32);
	e = rom_command(r, ROM_CMD_SYNC, payload, sizeof(payload), 0, 0, ROM_SYNC_TIMEOUT_MS, &resp);
	if (e)
		return e;
	rom_value = resp.value != 0;
	/* The ROM answers one SYNC several times (esptool reads 7 more): take
	 * them all now, until seven arrived or the line goes quiet. Stragglers
	 * are harmless anyway (replies are matched by command). */
	uint64_t end = o->now_ms(r->port) + 100;
	while (extra < 7) {
		uint64_t now = o->now_ms(r->port);
		uint64_t dl = now + 20 < end ? now + 20 : end;
		size_t flen = 0;
		struct rom_response x;

		if (now >= end)
			break;
		e = next_frame(r, dl, &flen);
		if (e == PORT_ETIMEDOUT)
			break;
		if (e)
			return map_port_err(r, e, "SYNC");
		if (rom_parse_response(r->frame, flen, ROM_CMD_SYNC, 0, &x) == 0) {
			extra++;
			rom_value |= x.value != 0;
		}
	}
	/* A ROM reply has a non-zero value field; a flasher stub sends 0. */
	if (!rom_value)
		return rom_fail(r, ROM_ESTUB, "SYNC: answered with value 0 (a flasher stub is running, not the ROM)");
	return ROM_OK;
}

int rom_read_reg(struct rom *r, uint32_t addr, uint32_t *val)
{
	uint8_t d[4];
	struct rom_response resp;
	int e;

	le_put32(d, addr);
	e = rom_command(r, ROM_CMD_READ_REG, d, sizeof(d), 0, 0, ROM_DEFAULT_TIMEOUT_MS, &resp);
	if (e)
		return e;
	*val = resp.value;
	return ROM_OK;
}

int rom_write_reg(struct rom *r, uint32_t addr, uint32_t val)
{
	uint8_t d[16];

	le_put32(d, addr);
	le_put32(d + 4, val);
	le_put32(d + 8, 0xFFFFFFFFu); /* mask */
	le_put32(d + 12, 0);          /* delay in microseconds */
	return rom_command(r, ROM_CMD_WRITE_REG, d, sizeof(d), 0, 0, ROM_DEFAULT_TIMEOUT_MS, NULL);
}

int rom_get_security_info(struct rom *r, struct rom_security *out)
{
	struct rom_response resp;
	int e;

	memset(out, 0, sizeof(*out));
	e = rom_command(r, ROM_CMD_GET_SECURITY_INFO, NULL, 0, 0, ROM_DATA_LEN_AUTO,
			ROM_DEFAULT_TIMEOUT_MS, &resp);
	if (e)
		return e;
	/* 20 bytes with the chip id on S3 and later, 12 without on ESP32-S2 */
	if (resp.data_len != 20 && resp.data_len != 12)
		return rom_fail(r, ROM_EPROTO, "GET_SECURITY_INFO: reply of %zu bytes (expected 12 or 20)",
				resp.data_len);
	out->flags = le_get32(resp.data);
	out->flash_crypt_cnt = resp.data[4];
	memcpy(out->key_purposes, resp.data + 5, 7);
	if (resp.data_len == 20) {
		out->have_chip_id = 1;
		out->chip_id = le_get32(resp.data + 12);
		out->api_version = le_get32(resp.data + 16);
	}
	return ROM_OK;
}

int rom_security_flash_encrypted(const struct rom_security *s)
{
	return __builtin_popcount(s->flash_crypt_cnt) & 1;
}

int rom_spi_attach(struct rom *r)
{
	/* ROM variant: hspi_arg = 0 plus the ROM-only "is legacy" word */
	uint8_t d[8] = {0};

	return rom_command(r, ROM_CMD_SPI_ATTACH, d, sizeof(d), 0, 0, ROM_DEFAULT_TIMEOUT_MS, NULL);
}

int rom_spi_set_params(struct rom *r, uint32_t flash_size)
{
	uint8_t d[24];

	le_put32(d, 0);            /* flash id */
	le_put32(d + 4, flash_size);
	le_put32(d + 8, 64 * 1024); /* block */
	le_put32(d + 12, 4 * 1024); /* sector */
	le_put32(d + 16, 256);      /* page */
	le_put32(d + 20, 0xFFFF);   /* status mask */
	return rom_command(r, ROM_CMD_SPI_SET_PARAMS, d, sizeof(d), 0, 0, ROM_DEFAULT_TIMEOUT_MS, NULL);
}

int rom_change_baud(struct rom *r, uint32_t rom_baud, uint32_t host_baud)
{
	const struct port_ops *o = r->port->ops;
	uint8_t d[8];
	int e;

	le_put32(d, rom_baud);
	le_put32(d + 4, 0); /* the ROM takes 0 here; only the stub wants the old rate */
	e = rom_command(r, ROM_CMD_CHANGE_BAUDRATE, d, sizeof(d), 0, 0, ROM_DEFAULT_TIMEOUT_MS, NULL);
	if (e)
		return e;
	e = o->set_baud(r->port, host_baud);
	if (e)
		return map_port_err(r, e, "set host baud rate");
	/* The ROM may emit garbage (and extra 0xC0s) while it switches.
	 * esptool sleeps a blind 50 ms; waiting until the line has been quiet
	 * for 2 ms (50 ms at most; garbage from the switch comes within a few
	 * character times) gives the same guarantee without the
	 * fixed cost per device. */
	e = rom_drain(r, 2, 50);
	if (e)
		return e;
	e = o->flush_input(r->port);
	if (e)
		return map_port_err(r, e, "flush after baud change");
	forget_input(r);
	return ROM_OK;
}

int rom_flash_begin(struct rom *r, int deflate, uint32_t erase_size, uint32_t nblocks,
		    uint32_t block_size, uint32_t offset, int encrypted_word, uint32_t timeout_ms)
{
	uint8_t d[20];
	size_t n = 16;

	le_put32(d, erase_size);
	le_put32(d + 4, nblocks);
	le_put32(d + 8, block_size);
	le_put32(d + 12, offset);
	if (encrypted_word) {
		/* ESP32-S2 and later ROMs read a fifth word: 1 = encrypted write */
		le_put32(d + 16, 0);
		n = 20;
	}
	return rom_command(r, deflate ? ROM_CMD_FLASH_DEFL_BEGIN : ROM_CMD_FLASH_BEGIN, d, n, 0, 0,
			   timeout_ms, NULL);
}

int rom_flash_data(struct rom *r, int deflate, const uint8_t *block, size_t len, uint32_t seq,
		   uint32_t timeout_ms)
{
	uint8_t d[16 + ROM_FLASH_BLOCK];
	uint8_t cmd = deflate ? ROM_CMD_FLASH_DEFL_DATA : ROM_CMD_FLASH_DATA;

	if (len > ROM_FLASH_BLOCK)
		return rom_fail(r, ROM_EINVAL, "%s: block of %zu bytes is too large", rom_cmd_name(cmd), len);
	le_put32(d, (uint32_t)len);
	le_put32(d + 4, seq);
	le_put32(d + 8, 0);
	le_put32(d + 12, 0);
	memcpy(d + 16, block, len);
	/* The checksum covers the payload only, not the 16-byte data header. */
	return rom_command(r, cmd, d, 16 + len, rom_checksum(block, len), 0, timeout_ms, NULL);
}

int rom_flash_end(struct rom *r, int deflate, int run_app, int wait_reply)
{
	const struct port_ops *o = r->port->ops;
	uint8_t d[4];
	uint8_t cmd = deflate ? ROM_CMD_FLASH_DEFL_END : ROM_CMD_FLASH_END;

	/* 0 = reboot, 1 = run the user code (esptool: int(not reboot)) */
	le_put32(d, run_app ? 1 : 0);
	if (wait_reply)
		return rom_command(r, cmd, d, sizeof(d), 0, 0, ROM_DEFAULT_TIMEOUT_MS, NULL);
	rom_diag_clear(r);
	r->diag.last_cmd = cmd;
	return send_packet(r, cmd, d, sizeof(d), 0, o->now_ms(r->port) + ROM_DEFAULT_TIMEOUT_MS);
}

static int hexval(uint8_t c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

int rom_flash_md5(struct rom *r, uint32_t addr, uint32_t size, uint8_t md5[16])
{
	uint8_t d[16];
	struct rom_response resp;
	int e;

	le_put32(d, addr);
	le_put32(d + 4, size);
	le_put32(d + 8, 0);
	le_put32(d + 12, 0);
	e = rom_command(r, ROM_CMD_SPI_FLASH_MD5, d, sizeof(d), 0, ROM_DATA_LEN_AUTO,
			rom_md5_timeout_ms(size), &resp);
	if (e)
		return e;
	if (resp.data_len == 32) {
		/* the ROM answers in ASCII hex */
		for (int i = 0; i < 16; i++) {
			int hi = hexval(resp.data[2 * i]), lo = hexval(resp.data[2 * i + 1]);
			if (hi < 0 || lo < 0)
				return rom_fail(r, ROM_EPROTO, "SPI_FLASH_MD5: reply is not hex digits");
			md5[i] = (uint8_t)(hi << 4 | lo);
		}
		return ROM_OK;
	}
	if (resp.data_len == 16) {
		/* a stub answers 16 raw bytes */
		memcpy(md5, resp.data, 16);
		return ROM_OK;
	}
	return rom_fail(r, ROM_EPROTO, "SPI_FLASH_MD5: reply of %zu bytes (expected 32)", resp.data_len);
}

int rom_read_flash_slow(struct rom *r, uint32_t addr, uint8_t *buf, size_t len)
{
	uint8_t d[8];
	struct rom_response resp;
	int e;

	if (len == 0 || len > ROM_READ_SLOW_BLOCK)
		return rom_fail(r, ROM_EINVAL, "READ_FLASH_SLOW: %zu bytes per request (1..64)", len);
	le_put32(d, addr);
	le_put32(d + 4, (uint32_t)len);
	/* The ROM always returns a 64-byte buffer, whatever was asked. Flash
	 * holds NVS values: a reply whose opening END is lost must not end up
	 * in boot_log (errors, --json). */
	r->dec.noise_muted = 1;
	e = rom_command(r, ROM_CMD_READ_FLASH_SLOW, d, sizeof(d), 0, ROM_READ_SLOW_BLOCK,
			ROM_DEFAULT_TIMEOUT_MS, &resp);
	if (e && r->dirty) {
		/* its late reply would reach the next command's drain unmuted:
		 * drain it now (as that drain would), keeping this failure's diag */
		struct rom_diag keep = r->diag;

		(void)rom_drain(r, 15, 300);
		r->diag = keep;
	}
	r->dec.noise_muted = 0;
	if (e)
		return e;
	if (resp.data_len < len)
		return rom_fail(r, ROM_EPROTO, "READ_FLASH_SLOW: short reply");
	memcpy(buf, resp.data, len);
	return ROM_OK;
}

static uint32_t per_mib(uint32_t size, uint32_t ms_per_mib)
{
	uint64_t t = (uint64_t)size * ms_per_mib / (1024 * 1024);

	if (t < ROM_DEFAULT_TIMEOUT_MS)
		return ROM_DEFAULT_TIMEOUT_MS;
	return t > 0xFFFFFFFFu ? 0xFFFFFFFFu : (uint32_t)t;
}

uint32_t rom_erase_timeout_ms(uint32_t size)
{
	return per_mib(size, 40000);
}

uint32_t rom_md5_timeout_ms(uint32_t size)
{
	return per_mib(size, 8000);
}
