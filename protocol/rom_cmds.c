/* The ROM loader's commands (ROM variants: no stub), one function each. */
#include <stdio.h>
#include <string.h>

#include "espfab/le.h"
#include "rom_int.h"

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
		e = rom_next_frame(r, dl, &flen);
		if (e == PORT_ETIMEDOUT)
			break;
		if (e)
			return rom_map_port_err(r, e, "SYNC");
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
		return rom_map_port_err(r, e, "set host baud rate");
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
		return rom_map_port_err(r, e, "flush after baud change");
	rom_forget_input(r);
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
	return rom_send_packet(r, cmd, d, sizeof(d), 0, o->now_ms(r->port) + ROM_DEFAULT_TIMEOUT_MS);
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

