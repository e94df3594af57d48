/* Random device bytes never crash the client: feed the input as everything
 * the "device" ever sends and run the whole connect/identify path plus every
 * command over it (virtual time, so timeouts cost nothing). */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "espfab/flashop.h"
#include "espfab/rom.h"
#include "test_rom_fakeport.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Chunked mode: each request gets the next chunk (1 length byte + bytes)
 * so the device's answers line up with the client's questions. */
struct chunks {
	const uint8_t *p;
	size_t left;
};

static void chunk_responder(struct fakeport *fp, const uint8_t *req, size_t len)
{
	struct chunks *c = fp->user;
	size_t n;

	(void)req;
	(void)len;
	if (!c->left)
		return;
	n = c->p[0];
	c->p++;
	c->left--;
	if (n > c->left)
		n = c->left;
	fp_queue(fp, c->p, n);
	c->p += n;
	c->left -= n;
}

/* The operations layer over the scripted port: connect, identify, read,
 * write with and without compression, verify, (erase,) leave. */
static void run_flashop(struct fakeport *fp, const struct flashop_options *o, int erase)
{
	struct flashop *f = NULL;
	struct rom_diag d;
	uint8_t buf[64], img[300];

	if (flashop_attach(&fp->base, o, &f, &d))
		return;
	memset(img, 0x5A, sizeof(img));
	(void)flashop_read(f, 0x8000, buf, sizeof(buf), NULL, NULL);
	(void)flashop_write(f, 0x9000, img, sizeof(img), FLASHOP_VERIFY, NULL, NULL);
	(void)flashop_write(f, 0x9000, img, sizeof(img), FLASHOP_NO_COMPRESS, NULL, NULL);
	if (erase)
		(void)flashop_erase(f, 0x9000, 0x1000, NULL, NULL);
	(void)flashop_hard_reset(f);
	flashop_close(f);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct rom_response resp;
	struct fakeport *fp;
	struct rom *r = NULL;
	struct flashop_options o;
	struct rom_security sec;
	uint8_t buf[64], md5[16];
	uint32_t v;

	if (size > 30000)
		return 0;
	if (size > 0 && data[0] == 'C') {
		struct chunks c = {data + 1, size - 1};
		fp = fp_new(chunk_responder, &c);
		flashop_options_init(&o);
		o.before = RESET_MODE_NONE;
		o.connect_attempts = 1;
		o.baud = size > 1 && (data[1] & 1) ? 921600 : 115200;
		run_flashop(fp, &o, 1);
		return 0;
	}
	/* the pure parser with every data length a command uses */
	for (size_t dl = 0; dl <= 64; dl += 4)
		(void)rom_parse_response(data, size, size > 1 ? data[1] : 0, dl, &resp);
	(void)rom_parse_response(data, size, size > 1 ? data[1] : 0, ROM_DATA_LEN_AUTO, &resp);

	/* single commands over the bytes */
	fp = fp_new(NULL, NULL);
	fp_queue(fp, data, size);
	if (rom_new(&fp->base, &r) == 0) {
		(void)rom_sync(r);
		(void)rom_read_reg(r, 0x40001000, &v);
		(void)rom_get_security_info(r, &sec);
		(void)rom_flash_md5(r, 0, 0x1000, md5);
		(void)rom_read_flash_slow(r, 0, buf, sizeof(buf));
		(void)rom_flash_begin(r, 1, 0x1000, 1, 0x400, 0, 1, 3000);
		(void)rom_change_baud(r, 921600, 921600);
		rom_free(r);
	}
	port_close(&fp->base);

	/* the operations layer: connect, identify, read, write, verify */
	fp = fp_new(NULL, NULL);
	fp_queue(fp, data, size);
	flashop_options_init(&o);
	o.before = RESET_MODE_NONE;
	o.connect_attempts = 1;
	run_flashop(fp, &o, 0);
	return 0;
}
