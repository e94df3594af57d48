/* Flash operations: read, write, verify, erase, leave the loader. */
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <zlib.h>

#include "flashop_int.h"
#include "espfab/le.h"

static int check_range(struct flashop *f, uint32_t off, uint64_t len, const char *what)
{
	if (!f->info.flash_size)
		return rom_fail(f->rom, ROM_ESECURE,
				"%s: the flash size cannot be detected in secure download mode: give --flash-size", what);
	if ((uint64_t)off + len > f->info.flash_size)
		return rom_fail(f->rom, ROM_ERANGE, "%s: 0x%x+0x%llx is beyond the %u-byte flash", what,
				(unsigned)off, (unsigned long long)len, (unsigned)f->info.flash_size);
	return ROM_OK;
}

static int md5_local(const uint8_t *data, size_t len, uint8_t out[16])
{
	unsigned int n = 0;

	return EVP_Digest(data, len, out, &n, EVP_md5(), NULL) == 1 && n == 16 ? 0 : -1;
}

static void hex16(const uint8_t d[16], char out[33])
{
	static const char hx[] = "0123456789abcdef";

	for (int i = 0; i < 16; i++) {
		out[2 * i] = hx[d[i] >> 4];
		out[2 * i + 1] = hx[d[i] & 15];
	}
	out[32] = '\0';
}

int flashop_verify(struct flashop *f, uint32_t off, const uint8_t *data, size_t len)
{
	uint8_t want[16], got[16];
	char hw[33], hg[33];
	int e;

	if (len == 0 || len > 0xFFFFFFFFu)
		return rom_fail(f->rom, ROM_EINVAL, "verify: empty region");
	if ((e = check_range(f, off, len, "verify")))
		return e;
	if (f->info.secure_download)
		return rom_fail(f->rom, ROM_ESECURE, "verify: SPI_FLASH_MD5 is not available in secure download mode");
	if (md5_local(data, len, want))
		return rom_fail(f->rom, ROM_ENOMEM, "verify: MD5 unavailable");
	if ((e = rom_flash_md5(f->rom, off, (uint32_t)len, got)))
		return e;
	if (memcmp(want, got, 16)) {
		/* The reply carries no checksum: a bit flipped on the way back
		 * would fail a good write. Ask once more; only a device that
		 * says the same thing twice is believed. */
		uint8_t again[16];
		if ((e = rom_flash_md5(f->rom, off, (uint32_t)len, again)))
			return e;
		if (!memcmp(want, again, 16))
			return ROM_OK;
		memcpy(got, again, 16);
	}
	if (memcmp(want, got, 16)) {
		hex16(want, hw);
		hex16(got, hg);
		return rom_fail(f->rom, ROM_EVERIFY, "verify of 0x%x+0x%zx failed: device MD5 %s, expected %s",
				(unsigned)off, len, hg, hw);
	}
	return ROM_OK;
}

static int retryable(int e)
{
	return e == ROM_ETIMEDOUT || e == ROM_EPROTO || e == ROM_EFAILED;
}

static int read_blocks(struct flashop *f, uint32_t off, uint8_t *buf, uint32_t len, flashop_progress_fn cb,
		       void *ctx)
{
	int e;

	if (len == 0)
		return rom_fail(f->rom, ROM_EINVAL, "read: empty region");
	if (f->info.secure_download)
		/* the ROM refuses READ_FLASH_SLOW there: say why at once */
		return rom_fail(f->rom, ROM_ESECURE, "read: flash reads are refused in secure download mode");
	if ((e = check_range(f, off, len, "read")))
		return e;
	for (uint32_t done = 0; done < len;) {
		uint32_t n = len - done < ROM_READ_SLOW_BLOCK ? len - done : ROM_READ_SLOW_BLOCK;
		for (int a = 0; a < READ_ATTEMPTS; a++) {
			e = rom_read_flash_slow(f->rom, off + done, buf + done, n);
			if (!e || !retryable(e))
				break;
			rom_note_retry(f->rom);
		}
		if (e)
			return e;
		done += n;
		if (cb)
			cb(ctx, done, len);
	}
	return ROM_OK;
}

int flashop_read_unchecked(struct flashop *f, uint32_t off, uint8_t *buf, uint32_t len)
{
	return read_blocks(f, off, buf, len, NULL, NULL);
}

int flashop_read(struct flashop *f, uint32_t off, uint8_t *buf, uint32_t len, flashop_progress_fn cb,
		 void *ctx)
{
	uint8_t want[16], got[16];
	int e;

	if ((e = read_blocks(f, off, buf, len, cb, ctx)))
		return e;
	/* The ROM's replies carry no checksum: compare with its own MD5 so a
	 * corrupted reply never passes as flash content. */
	if (off % 4 == 0 && len % 4 == 0 && !f->info.secure_download) {
		if ((e = rom_flash_md5(f->rom, off, len, want)))
			return e;
		if (md5_local(buf, len, got))
			return rom_fail(f->rom, ROM_ENOMEM, "read: MD5 unavailable");
		if (memcmp(want, got, 16))
			return rom_fail(f->rom, ROM_EVERIFY,
					"read of 0x%x+0x%x: data received differs from the device's MD5 (corrupted replies)",
					(unsigned)off, (unsigned)len);
	}
	return ROM_OK;
}

static int send_blocks(struct flashop *f, int deflate, const uint8_t *src, size_t srclen, size_t total_unc,
		       uint32_t timeout_ms, flashop_progress_fn cb, void *ctx)
{
	uint8_t block[ROM_FLASH_BLOCK];
	uint32_t nblocks = (uint32_t)((srclen + ROM_FLASH_BLOCK - 1) / ROM_FLASH_BLOCK);
	int e = ROM_OK;

	for (uint32_t seq = 0; seq < nblocks; seq++) {
		size_t at = (size_t)seq * ROM_FLASH_BLOCK;
		size_t n = srclen - at < ROM_FLASH_BLOCK ? srclen - at : ROM_FLASH_BLOCK;
		size_t send = n;

		memcpy(block, src + at, n);
		if (!deflate && n < ROM_FLASH_BLOCK) {
			/* plain blocks are always full: pad with erased-flash bytes */
			memset(block + n, 0xFF, ROM_FLASH_BLOCK - n);
			send = ROM_FLASH_BLOCK;
		}
		for (int a = 0; a < BLOCK_ATTEMPTS; a++) {
			/* a retried block keeps its sequence number */
			e = rom_flash_data(f->rom, deflate, block, send, seq, timeout_ms);
			if (!e || !retryable(e))
				break;
			rom_note_retry(f->rom);
		}
		if (e)
			break;
		if (cb)
			cb(ctx, deflate ? (uint64_t)total_unc * (seq + 1) / nblocks : (uint64_t)(at + n), total_unc);
	}
	OPENSSL_cleanse(block, sizeof(block));
	return e;
}

int flashop_write(struct flashop *f, uint32_t off, const uint8_t *data, size_t len, unsigned flags,
		  flashop_progress_fn cb, void *ctx)
{
	uint8_t *img = NULL, *z = NULL;
	uLongf zlen = 0;
	size_t total, pad, zcap = 0;
	uint32_t start;
	int deflate = 0, e;

	if (len == 0)
		return rom_fail(f->rom, ROM_EINVAL, "write: empty image");
	if (off % 4)
		return rom_fail(f->rom, ROM_ERANGE, "write: offset 0x%x is not 4-byte aligned", (unsigned)off);
	if (f->info.flash_encrypted && !(flags & FLASHOP_PLAINTEXT_OK))
		/* The ROM path writes plaintext; with flash encryption on, the
		 * app decrypts what it reads (and with it, IDF turns on NVS
		 * encryption): plaintext there is garbage to it. */
		return rom_fail(f->rom, ROM_EENCRYPTED,
				"write at 0x%x refused: flash encryption is on (FLASH_CRYPT_CNT odd), a plaintext "
				"image would be unreadable by the app", (unsigned)off);
	/* The ROM erases whole sectors from a sector boundary: start there and
	 * fill the gap with 0xFF; pad the end to a 4-byte multiple. */
	start = off & ~(uint32_t)(ROM_SECTOR - 1);
	pad = off - start;
	total = (pad + len + 3) & ~(size_t)3;
	if ((e = check_range(f, start, total, "write")))
		return e;
	img = malloc(total);
	if (!img) {
		e = rom_fail(f->rom, ROM_ENOMEM, "write: out of memory");
		goto out;
	}
	memset(img, 0xFF, total);
	memcpy(img + pad, data, len);
	if (!(flags & FLASHOP_NO_COMPRESS)) {
		zcap = compressBound(total);
		z = malloc(zcap);
		if (!z) {
			e = rom_fail(f->rom, ROM_ENOMEM, "write: out of memory");
			goto out;
		}
		zlen = zcap;
		if (compress2(z, &zlen, img, total, 9) != Z_OK) {
			e = rom_fail(f->rom, ROM_EDEFLATE, "write: zlib failed");
			goto out;
		}
		deflate = zlen < total; /* whichever puts fewer bytes on the wire */
	}
	if (deflate) {
		/* the ROM wants the uncompressed size rounded up to its block size */
		uint32_t wsize = (uint32_t)((total + ROM_FLASH_BLOCK - 1) / ROM_FLASH_BLOCK * ROM_FLASH_BLOCK);
		uint32_t nb = (uint32_t)((zlen + ROM_FLASH_BLOCK - 1) / ROM_FLASH_BLOCK);
		e = rom_flash_begin(f->rom, 1, wsize, nb, ROM_FLASH_BLOCK, start,
				    f->info.chip->flash_begin_encrypted_word, rom_erase_timeout_ms(wsize));
		if (!e)
			/* one compressed block can inflate to the whole image: its
			 * programming time follows the uncompressed size */
			e = send_blocks(f, 1, z, zlen, total, rom_erase_timeout_ms((uint32_t)total), cb, ctx);
	} else {
		uint32_t nb = (uint32_t)((total + ROM_FLASH_BLOCK - 1) / ROM_FLASH_BLOCK);
		e = rom_flash_begin(f->rom, 0, (uint32_t)total, nb, ROM_FLASH_BLOCK, start,
				    f->info.chip->flash_begin_encrypted_word, rom_erase_timeout_ms((uint32_t)total));
		if (!e)
			e = send_blocks(f, 0, img, total, total, ROM_DEFAULT_TIMEOUT_MS, cb, ctx);
	}
	/* No FLASH_END here: it would make the ROM leave the loader. */
	if (!e && (flags & FLASHOP_VERIFY))
		e = flashop_verify(f, start, img, total);
out:
	if (z) {
		OPENSSL_cleanse(z, zcap);
		free(z);
	}
	if (img) {
		OPENSSL_cleanse(img, total);
		free(img);
	}
	return e;
}

int flashop_erase(struct flashop *f, uint32_t off, uint32_t size, flashop_progress_fn cb, void *ctx)
{
	uint8_t *ff;
	int e;

	if (off % ROM_SECTOR || size % ROM_SECTOR || size == 0)
		return rom_fail(f->rom, ROM_ERANGE, "erase: 0x%x+0x%x is not a whole number of 4 KiB sectors",
				(unsigned)off, (unsigned)size);
	if ((e = check_range(f, off, size, "erase")))
		return e;
	ff = malloc(size);
	if (!ff)
		return rom_fail(f->rom, ROM_ENOMEM, "erase: out of memory");
	memset(ff, 0xFF, size);
	/* The ROM has no region erase (that is a stub command); FLASH_DEFL_BEGIN
	 * erases the region and the 0xFF stream compresses to a few bytes. */
	e = flashop_write(f, off, ff, size, FLASHOP_VERIFY, cb, ctx);
	free(ff);
	return e;
}

int flashop_hard_reset(struct flashop *f)
{
	int e;

	if (f->info.usb_jtag && f->info.chip && f->info.chip->has_usb_jtag) {
		/* A core reset does not re-sample the strapping pins on USB-JTAG:
		 * only a watchdog reset leaves download mode. */
		return reset_watchdog(f->rom, f->info.chip);
	}
	e = reset_hard_rts(f->port);
	if (e != ROM_ENOLINES) {
		if (e)
			return rom_fail(f->rom, e, "hard reset failed: %s", rom_strerror(e));
		return ROM_OK;
	}
	/* No modem lines (TCP, pty): leave the loader the way esptool's run()
	 * does, FLASH_BEGIN of nothing then FLASH_END "run user code". The ROM
	 * may not answer the last one. */
	e = rom_flash_begin(f->rom, 0, 0, 0, ROM_FLASH_BLOCK, 0, f->info.chip->flash_begin_encrypted_word,
			    ROM_DEFAULT_TIMEOUT_MS);
	if (e)
		return e;
	return rom_flash_end(f->rom, 0, 1, 0);
}

int flashop_parse_size(const char *s, uint32_t *out)
{
	char *end = NULL;
	unsigned long long v;

	if (!s || !*s || *s == '-')
		return ROM_EINVAL;
	errno = 0;
	v = strtoull(s, &end, 0);
	if (errno || end == s)
		return ROM_EINVAL;
	if (*end) {
		unsigned long long mul;
		char u = (char)toupper((unsigned char)*end);
		if (u == 'K')
			mul = 1024;
		else if (u == 'M')
			mul = 1024 * 1024;
		else
			return ROM_EINVAL;
		end++;
		if (*end == 'B' || *end == 'b')
			end++;
		if (*end)
			return ROM_EINVAL;
		v *= mul;
	}
	if (v == 0 || v > 0xFFFFFFFFull)
		return ROM_EINVAL;
	*out = (uint32_t)v;
	return ROM_OK;
}


int flashop_read_reg(struct flashop *f, uint32_t addr, uint32_t *v)
{
	if (f->info.secure_download)
		return rom_fail(f->rom, ROM_ESECURE, "READ_REG 0x%08x: not available in secure download mode",
				(unsigned)addr);
	return flashop_rd(f, addr, v);
}

int flashop_write_reg(struct flashop *f, uint32_t addr, uint32_t v)
{
	if (f->info.secure_download)
		return rom_fail(f->rom, ROM_ESECURE, "WRITE_REG 0x%08x: not available in secure download mode",
				(unsigned)addr);
	return flashop_wr(f, addr, v);
}
