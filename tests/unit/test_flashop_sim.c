/* The client against the simulator's device engine (simdev) through its
 * in-process fake port on virtual time: every command, every fault knob,
 * resets, N devices in parallel threads. A fault must end in a clear error
 * within its deadline or in a verified success, never in a false success. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include <pthread.h>

#include "espfab/flashop.h"
#include "espfab/simdev.h"
#include "espfab/simdev_fakeport.h"

#define IMG_LEN (24 * 1024)
#define NVS_OFF 0x9000u

struct rig {
	struct simdev *dev;
	struct port *port; /* handed to flashop_attach, which then owns it */
	struct flashop *f;
	struct flashop_options o;
	struct rom_diag d;
	uint8_t img[IMG_LEN];
};

static void make_img(uint8_t *p, size_t len, unsigned salt)
{
	memset(p, 0xFF, len);
	for (size_t s = 0; s < len; s += 4096)
		for (size_t k = 0; k < 320 && s + k < len; k++)
			p[s + k] = (uint8_t)(k * 13 + s / 4096 + salt);
}

static struct rig *rig_new(enum simdev_chip chip, void (*tweak)(struct simdev_config *))
{
	struct rig *r = calloc(1, sizeof(*r));
	struct simdev_config cfg;
	struct simdev_err err;

	simdev_config_default(&cfg);
	cfg.chip = chip;
	if (tweak)
		tweak(&cfg);
	assert_int_equal(simdev_new(&cfg, &r->dev, &err), 0);
	assert_int_equal(simdev_fakeport_new(r->dev, NULL, 115200, &r->port), 0);
	flashop_options_init(&r->o);
	r->o.before = RESET_MODE_NONE;
	make_img(r->img, sizeof(r->img), (unsigned)chip);
	return r;
}

static int rig_open(struct rig *r)
{
	int e = flashop_attach(r->port, &r->o, &r->f, &r->d);

	r->port = NULL; /* owned (and on failure closed) by flashop_attach */
	return e;
}

static uint64_t vnow_ms(struct rig *r)
{
	return flashop_port(r->f)->ops->now_ms(flashop_port(r->f));
}

static void rig_free(struct rig *r)
{
	flashop_close(r->f);
	port_close(r->port);
	simdev_free(r->dev);
	free(r);
}

static int flash_equals(struct rig *r, uint32_t off, const uint8_t *want, size_t len)
{
	size_t size;
	uint8_t *fl = simdev_flash(r->dev, &size);

	return off + len <= size && memcmp(fl + off, want, len) == 0;
}

static void test_flashop_sim_identifies_every_personality(void **state)
{
	(void)state;
	static const struct {
		enum simdev_chip sc;
		enum chip_id id;
	} t[] = {{SIMDEV_CHIP_ESP32, CHIP_ESP32},     {SIMDEV_CHIP_ESP32S2, CHIP_ESP32S2},
		 {SIMDEV_CHIP_ESP32S3, CHIP_ESP32S3}, {SIMDEV_CHIP_ESP32C2, CHIP_ESP32C2},
		 {SIMDEV_CHIP_ESP32C3, CHIP_ESP32C3}, {SIMDEV_CHIP_ESP32C6, CHIP_ESP32C6},
		 {SIMDEV_CHIP_ESP32H2, CHIP_ESP32H2}};
	static const uint8_t mac[6] = {0x24, 0x0a, 0xc4, 0x00, 0x00, 0x01};

	for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		struct rig *r = rig_new(t[i].sc, NULL);
		assert_int_equal(rig_open(r), 0);
		/* the ROM's real answers only: nothing it does not know was
		 * sent, nothing timed out or was retried */
		assert_int_equal(simdev_stats(r->dev)->unknown, 0);
		assert_int_equal(flashop_stats(r->f)->retries, 0);
		assert_int_equal(simdev_stats(r->dev)->by_cmd[0x14], t[i].id == CHIP_ESP32 ? 0 : 1);
		const struct flashop_info *in = flashop_info(r->f);
		assert_int_equal(in->chip->id, t[i].id);
		assert_true(in->mac_valid);
		assert_memory_equal(in->mac, mac, 6);
		assert_int_equal(in->flash_size, 4u * 1024 * 1024);
		assert_true(in->flash_size_detected);
		assert_int_equal(in->have_security, t[i].id != CHIP_ESP32);
		assert_false(in->secure_download);
		rig_free(r);
	}
}

/* Requests (round trips) from SYNC to the flash ready for writing. */
static unsigned long long identify_requests(enum simdev_chip chip, uint32_t baud)
{
	struct rig *r = rig_new(chip, NULL);
	unsigned long long n;

	r->o.baud = baud;
	assert_int_equal(rig_open(r), 0);
	n = simdev_stats(r->dev)->requests - simdev_stats(r->dev)->by_cmd[0x08];
	rig_free(r);
	return n;
}

/* Identifying an ESP32 costs no more exchanges than an ESP32-C3 (the
 * issue's bound; the time is printed by bench/flash_bench): the ESP32 gets
 * the magic register and its two security eFuse words where the C3 gets
 * the magic register, GET_SECURITY_INFO and its console variable. */
static void test_flashop_sim_esp32_identification_no_dearer_than_c3(void **state)
{
	(void)state;
	assert_true(identify_requests(SIMDEV_CHIP_ESP32, 115200) <= identify_requests(SIMDEV_CHIP_ESP32C3, 115200));
}

static void esp32_encrypted(struct simdev_config *c)
{
	c->flash_crypt_cnt = 1;
	c->security_flags = SIMDEV_SEC_SECURE_BOOT;
}

/* The ESP32 says nothing of flash encryption unless asked by eFuse: found
 * there, and a plaintext write is refused before anything is erased. */
static void test_flashop_sim_esp32_flash_encryption_from_efuse(void **state)
{
	(void)state;
	struct rig *r = rig_new(SIMDEV_CHIP_ESP32, esp32_encrypted);

	assert_int_equal(rig_open(r), 0);
	assert_true(flashop_info(r->f)->flash_encrypted);
	assert_true(flashop_info(r->f)->secure_boot);
	assert_int_equal(flashop_write(r->f, NVS_OFF, r->img, IMG_LEN, 0, NULL, NULL), ROM_EENCRYPTED);
	assert_non_null(strstr(flashop_diag(r->f)->msg, "flash encryption"));
	assert_int_equal(simdev_stats(r->dev)->sectors_erased, 0);
	rig_free(r);
	/* an even count (encryption disabled again) writes */
	r = rig_new(SIMDEV_CHIP_ESP32, NULL);
	assert_int_equal(rig_open(r), 0);
	assert_false(flashop_info(r->f)->flash_encrypted);
	assert_false(flashop_info(r->f)->secure_boot);
	rig_free(r);
}

static void write_verify_case(enum simdev_chip chip, uint32_t baud, unsigned flags)
{
	struct rig *r = rig_new(chip, NULL);
	const struct simdev_stats *st;
	const struct rom_stats *rs;
	uint64_t t0, dt;
	double floor_ms, wire0;

	r->o.baud = baud;
	assert_int_equal(rig_open(r), 0);
	/* the ESP32's ROM clock drifts (esptool corrects the request): the
	 * device must end within 1 % of the host, or bytes garble */
	assert_true(simdev_baud(r->dev) > baud * 0.99 && simdev_baud(r->dev) < baud * 1.01);
	rs = flashop_stats(r->f);
	wire0 = rs->wire_s;
	t0 = vnow_ms(r);
	assert_int_equal(flashop_write(r->f, NVS_OFF, r->img, IMG_LEN, flags | FLASHOP_VERIFY, NULL, NULL), 0);
	dt = vnow_ms(r) - t0;
	assert_true(flash_equals(r, NVS_OFF, r->img, IMG_LEN));
	st = simdev_stats(r->dev);
	rs = flashop_stats(r->f);
	/* the ROM is never told FLASH_END while we stay in the loader */
	assert_int_equal(st->by_cmd[0x04], 0);
	assert_int_equal(st->by_cmd[0x12], 0);
	if (flags & FLASHOP_NO_COMPRESS) {
		assert_int_equal(st->by_cmd[0x03], IMG_LEN / 0x400);
		assert_int_equal(st->by_cmd[0x11], 0);
	} else {
		assert_true(st->by_cmd[0x11] >= 1);
		assert_int_equal(st->by_cmd[0x03], 0);
	}
	assert_int_equal(st->sectors_erased, IMG_LEN / 4096);
	assert_int_equal(rs->retries, 0);
	/* virtual time of the write is near the model's floor: the engine's
	 * erase/program time plus the bytes of this write on the wire */
	floor_ms = (double)st->busy_ns / 1e6 + (rs->wire_s - wire0) * 1000.0;
	assert_true((double)dt >= floor_ms * 0.98);
	assert_true((double)dt < floor_ms * 1.15);
	rig_free(r);
}

static void test_flashop_sim_write_compressed_115200_and_921600_every_chip(void **state)
{
	(void)state;
	write_verify_case(SIMDEV_CHIP_ESP32, 115200, 0);
	write_verify_case(SIMDEV_CHIP_ESP32, 921600, 0); /* ESP32 baud-clock correction */
	write_verify_case(SIMDEV_CHIP_ESP32S3, 921600, 0);
	write_verify_case(SIMDEV_CHIP_ESP32C3, 460800, 0);
	write_verify_case(SIMDEV_CHIP_ESP32S2, 921600, 0);
	write_verify_case(SIMDEV_CHIP_ESP32C2, 921600, 0); /* 26 MHz crystal: 40/26 correction */
	write_verify_case(SIMDEV_CHIP_ESP32C6, 921600, 0);
	write_verify_case(SIMDEV_CHIP_ESP32H2, 921600, 0);
}

static void test_flashop_sim_write_plain(void **state)
{
	(void)state;
	write_verify_case(SIMDEV_CHIP_ESP32S3, 115200, FLASHOP_NO_COMPRESS);
	write_verify_case(SIMDEV_CHIP_ESP32, 921600, FLASHOP_NO_COMPRESS);
}

static void test_flashop_sim_read_verify_erase(void **state)
{
	(void)state;
	struct rig *r = rig_new(SIMDEV_CHIP_ESP32C3, NULL);
	size_t size;
	uint8_t *fl = simdev_flash(r->dev, &size);
	uint8_t buf[0xC00];

	for (int i = 0; i < 0xC00; i++)
		fl[0x8000 + i] = (uint8_t)(i * 7);
	assert_int_equal(rig_open(r), 0);
	assert_int_equal(flashop_read(r->f, 0x8000, buf, sizeof(buf), NULL, NULL), 0);
	assert_memory_equal(buf, fl + 0x8000, sizeof(buf));
	assert_int_equal(flashop_verify(r->f, 0x8000, buf, sizeof(buf)), 0);
	buf[100] ^= 1;
	assert_int_equal(flashop_verify(r->f, 0x8000, buf, sizeof(buf)), ROM_EVERIFY);
	assert_int_equal(flashop_erase(r->f, 0x8000, 0x1000, NULL, NULL), 0);
	for (int i = 0; i < 0x1000; i++)
		assert_int_equal(fl[0x8000 + i], 0xFF);
	/* beyond the detected 4 MiB */
	assert_int_equal(flashop_read(r->f, 4u * 1024 * 1024 - 32, buf, 64, NULL, NULL), ROM_ERANGE);
	rig_free(r);
}

static void start_in_app(struct simdev_config *c)
{
	c->start_in_download = 0;
}

static void test_flashop_sim_classic_reset_enters_loader_and_hard_reset_leaves(void **state)
{
	(void)state;
	struct rig *r = rig_new(SIMDEV_CHIP_ESP32S3, start_in_app);

	assert_int_equal(simdev_state(r->dev), SIMDEV_STATE_APP);
	r->o.before = RESET_MODE_CLASSIC;
	assert_int_equal(rig_open(r), 0);
	assert_int_equal(simdev_state(r->dev), SIMDEV_STATE_DOWNLOAD);
	assert_int_equal(flashop_hard_reset(r->f), 0);
	/* let the engine see time pass after EN is released */
	{
		struct port *p = flashop_port(r->f);
		uint8_t b[64];
		size_t got;
		(void)p->ops->read(p, b, sizeof(b), &got, p->ops->now_ms(p) + 200);
	}
	assert_int_equal(simdev_state(r->dev), SIMDEV_STATE_APP);
	assert_int_equal(simdev_stats(r->dev)->by_cmd[0x04], 0); /* by RTS, not FLASH_END */
	rig_free(r);
}

static void test_flashop_sim_no_reset_on_app_chip_is_enosync_in_bounded_time(void **state)
{
	(void)state;
	struct rig *r = rig_new(SIMDEV_CHIP_ESP32, start_in_app);

	r->o.connect_attempts = 2;
	assert_int_equal(rig_open(r), ROM_ENOSYNC);
	assert_int_equal(r->d.error, ROM_ENOSYNC);
	assert_non_null(strstr(r->d.msg, "no SYNC reply"));
	rig_free(r);
}

static void strap_broken(struct simdev_config *c)
{
	c->strap_broken = 1;
	c->start_in_download = 0;
}

/* A reset that boots the application (IO0 not held low): the operator is
 * told so from the chip's own boot log, not just "no SYNC". */
static void test_flashop_sim_booted_app_is_named(void **state)
{
	(void)state;
	struct rig *r = rig_new(SIMDEV_CHIP_ESP32, strap_broken);

	r->o.before = RESET_MODE_CLASSIC;
	r->o.connect_attempts = 2;
	assert_int_equal(rig_open(r), ROM_ENOSYNC);
	assert_non_null(strstr(r->d.msg, "booted its application (boot:0x13)"));
	assert_null(strchr(r->d.msg, '\n'));
	rig_free(r);
}

/* In download mode ("waiting for download" printed) but silent: the chip's
 * RX line is down (here: the loader answers nothing). */
static void test_flashop_sim_download_mode_but_no_sync_is_named(void **state)
{
	(void)state;
	struct rig *r = rig_new(SIMDEV_CHIP_ESP32C3, start_in_app);

	simdev_set_drop_after(r->dev, 0);
	r->o.before = RESET_MODE_CLASSIC;
	r->o.connect_attempts = 2;
	assert_int_equal(rig_open(r), ROM_ENOSYNC);
	assert_non_null(strstr(r->d.msg, "waiting for download"));
	assert_non_null(strstr(r->d.msg, "RX seems down"));
	rig_free(r);
}

static void test_flashop_sim_usb_jtag_reopens_and_disables_watchdogs(void **state)
{
	(void)state;
	struct rig *r = rig_new(SIMDEV_CHIP_ESP32S3, NULL);

	/* the port vanishes during the reset and needs three tries to come back */
	simdev_fakeport_fail_io(r->port, PORT_ENODEV);
	simdev_fakeport_fail_reopen(r->port, 3);
	r->o.before = RESET_MODE_USB_JTAG;
	assert_int_equal(rig_open(r), 0);
	assert_true(simdev_fakeport_counters(flashop_port(r->f))->reopens >= 1);
	/* RTC WDT off and super-watchdog auto-feed, as esptool does on S3 */
	assert_int_equal(simdev_reg_read(r->dev, 0x60008098), 0);
	assert_true(simdev_reg_read(r->dev, 0x600080B4) & (1u << 31));
	assert_int_equal(simdev_reg_read(r->dev, 0x600080B0), 0); /* locked again */
	rig_free(r);
}

static void usb_jtag_app(struct simdev_config *c)
{
	c->usb_jtag = 1;
	c->usb_reenum_ms = 300;
	c->wdt_ms = 2000;
	c->start_in_download = 0;
}

/* The USB-Serial/JTAG model: the reset re-enumerates the port, the watchdogs
 * would fire mid-write unless disabled, and only a watchdog reset leaves
 * download mode. A 512 KiB plain write at 115200 takes ~50 s of virtual
 * time, far beyond the 2 s watchdog. */
static void test_flashop_sim_usb_jtag_full_cycle(void **state)
{
	(void)state;
	struct rig *r = rig_new(SIMDEV_CHIP_ESP32C3, usb_jtag_app);
	size_t len = 512 * 1024;
	uint8_t *big = malloc(len);

	for (size_t i = 0; i < len; i++)
		big[i] = (uint8_t)(i * 2654435761u >> 24);
	r->o.before = RESET_MODE_USB_JTAG;
	assert_int_equal(rig_open(r), 0);
	assert_int_equal(simdev_state(r->dev), SIMDEV_STATE_DOWNLOAD);
	assert_true(simdev_fakeport_counters(flashop_port(r->f))->reopens >= 1);
	assert_int_equal(flashop_write(r->f, 0x10000, big, len, FLASHOP_NO_COMPRESS | FLASHOP_VERIFY, NULL, NULL), 0);
	assert_int_equal(simdev_stats(r->dev)->wdt_resets, 0);
	assert_true(flash_equals(r, 0x10000, big, len));
	assert_int_equal(flashop_hard_reset(r->f), 0);
	/* leaving: the RTC watchdog armed to reset the system (esptool's
	 * watchdog_reset). The engine does not model a host re-arming the
	 * watchdog, so check the registers it was left with. */
	assert_int_equal(simdev_reg_read(r->dev, 0x60008090), (1u << 31) | (5u << 28) | (1u << 8) | 2u);
	assert_int_equal(simdev_reg_read(r->dev, 0x60008094), 2000);
	assert_int_equal(simdev_stats(r->dev)->by_cmd[0x04], 0); /* not by FLASH_END */
	free(big);
	rig_free(r);
}

static void usb_jtag_in_download(struct simdev_config *c)
{
	c->usb_jtag = 1;
	c->wdt_ms = 1000;
}

/* No reset at all (a fixture strapped the chip, or a pty): the ROM's own
 * note of its console says USB-Serial/JTAG, so the watchdogs go before a
 * write longer than they allow. */
static void test_flashop_sim_usb_jtag_console_detected_without_usb_reset(void **state)
{
	(void)state;
	struct rig *r = rig_new(SIMDEV_CHIP_ESP32S3, usb_jtag_in_download);
	size_t len = 64 * 1024;
	uint8_t *big = malloc(len);

	for (size_t i = 0; i < len; i++)
		big[i] = (uint8_t)(i * 7 + (i >> 9));
	r->o.before = RESET_MODE_NONE;
	assert_int_equal(rig_open(r), 0);
	assert_true(flashop_info(r->f)->usb_jtag);
	/* ~6 s of virtual time at 115200, the watchdog would fire after 1 s */
	assert_int_equal(flashop_write(r->f, 0x10000, big, len, FLASHOP_NO_COMPRESS | FLASHOP_VERIFY, NULL, NULL), 0);
	assert_int_equal(simdev_stats(r->dev)->wdt_resets, 0);
	assert_true(flash_equals(r, 0x10000, big, len));
	free(big);
	rig_free(r);
}

static void test_flashop_sim_uart_console_is_not_usb_jtag(void **state)
{
	(void)state;
	struct rig *r = rig_new(SIMDEV_CHIP_ESP32C3, NULL);

	assert_int_equal(rig_open(r), 0);
	assert_false(flashop_info(r->f)->usb_jtag);
	assert_int_equal(simdev_stats(r->dev)->by_cmd[0x09], 7); /* RDID only: no watchdog writes */
	rig_free(r);
}

static void secure_download(struct simdev_config *c)
{
	c->security_flags = SIMDEV_SEC_SECURE_DOWNLOAD | SIMDEV_SEC_SECURE_BOOT;
	c->flash_crypt_cnt = 1;
}

/* Secure download mode: no register, MD5 or flash reads; identification
 * stays within what the ROM allows, writes work, reads fail clearly. */
static void test_flashop_sim_secure_download_mode(void **state)
{
	(void)state;
	struct rig *r = rig_new(SIMDEV_CHIP_ESP32S3, secure_download);
	uint8_t buf[64];

	r->o.flash_size = 4u * 1024 * 1024;
	r->o.baud = 921600;
	assert_int_equal(rig_open(r), 0);
	assert_true(flashop_info(r->f)->secure_download);
	assert_true(flashop_info(r->f)->secure_boot);
	assert_true(flashop_info(r->f)->flash_encrypted);
	assert_false(flashop_info(r->f)->mac_valid);
	/* one READ_REG (the magic), refused as unknown: that is how secure
	 * download mode shows; nothing else is read */
	assert_int_equal(simdev_stats(r->dev)->by_cmd[0x0a], 1);
	assert_int_equal(flashop_stats(r->f)->unsupported, 1);
	/* flash encryption is on: a plaintext write needs the caller's word */
	assert_int_equal(flashop_write(r->f, NVS_OFF, r->img, IMG_LEN, 0, NULL, NULL), ROM_EENCRYPTED);
	assert_int_equal(simdev_stats(r->dev)->by_cmd[0x02] + simdev_stats(r->dev)->by_cmd[0x10], 0);
	assert_int_equal(flashop_write(r->f, NVS_OFF, r->img, IMG_LEN, FLASHOP_PLAINTEXT_OK, NULL, NULL), 0);
	assert_true(flash_equals(r, NVS_OFF, r->img, IMG_LEN));
	assert_int_equal(flashop_verify(r->f, NVS_OFF, r->img, IMG_LEN), ROM_ESECURE);
	assert_int_equal(flashop_read(r->f, 0x8000, buf, sizeof(buf), NULL, NULL), ROM_ESECURE);
	rig_free(r);

	/* no RDID there: identified all the same, flash operations ask for the size */
	r = rig_new(SIMDEV_CHIP_ESP32S3, secure_download);
	assert_int_equal(rig_open(r), 0);
	assert_int_equal(flashop_info(r->f)->flash_size, 0);
	assert_int_equal(flashop_write(r->f, NVS_OFF, r->img, IMG_LEN, FLASHOP_PLAINTEXT_OK, NULL, NULL), ROM_ESECURE);
	assert_non_null(strstr(flashop_diag(r->f)->msg, "--flash-size"));
	rig_free(r);
}

static void test_flashop_sim_usb_port_never_back_is_enodev(void **state)
{
	(void)state;
	struct rig *r = rig_new(SIMDEV_CHIP_ESP32C3, NULL);

	simdev_fakeport_fail_io(r->port, PORT_ENODEV);
	simdev_fakeport_fail_reopen(r->port, 1000);
	r->o.before = RESET_MODE_USB_JTAG;
	r->o.reopen_ms = 2000;
	assert_int_equal(rig_open(r), ROM_ENODEV);
	assert_non_null(strstr(r->d.msg, "did not come back"));
	rig_free(r);
}

static void test_flashop_sim_lost_reply_retried_with_same_seq(void **state)
{
	(void)state;
	struct rig *r = rig_new(SIMDEV_CHIP_ESP32S3, NULL);

	assert_int_equal(rig_open(r), 0);
	simdev_inject(r->dev, 0x03, 1, 0); /* first FLASH_DATA reply lost */
	assert_int_equal(flashop_write(r->f, NVS_OFF, r->img, IMG_LEN, FLASHOP_NO_COMPRESS | FLASHOP_VERIFY, NULL, NULL), 0);
	assert_int_equal(flashop_stats(r->f)->retries, 1);
	assert_true(flash_equals(r, NVS_OFF, r->img, IMG_LEN));
	rig_free(r);
}

static void test_flashop_sim_rom_error_bytes_reach_the_caller(void **state)
{
	(void)state;
	struct rig *r = rig_new(SIMDEV_CHIP_ESP32S3, NULL);
	const struct rom_diag *d;

	assert_int_equal(rig_open(r), 0);
	simdev_inject(r->dev, 0x11, 3, 0x08); /* flash write error, every attempt */
	assert_int_equal(flashop_write(r->f, NVS_OFF, r->img, IMG_LEN, FLASHOP_VERIFY, NULL, NULL), ROM_EFAILED);
	d = flashop_diag(r->f);
	assert_int_equal(d->last_cmd, 0x11);
	assert_true(d->have_status);
	assert_int_equal(d->status, 1);
	assert_int_equal(d->rom_error, 0x08);
	assert_non_null(strstr(d->msg, "flash write error"));
	rig_free(r);
}

static void test_flashop_sim_garbage_between_responses_is_skipped(void **state)
{
	(void)state;
	struct rig *r = rig_new(SIMDEV_CHIP_ESP32, NULL);

	simdev_set_garbage(r->dev, 1);
	assert_int_equal(rig_open(r), 0);
	assert_int_equal(flashop_write(r->f, NVS_OFF, r->img, IMG_LEN, FLASHOP_VERIFY, NULL, NULL), 0);
	assert_true(flash_equals(r, NVS_OFF, r->img, IMG_LEN));
	rig_free(r);
}

/* One whole job (connect, write, verify, read back) under a fault: it ends
 * in success with the right flash content, or a clear error in bounded
 * virtual time. */
static int faulty_job(struct rig *r, uint64_t *elapsed_ms)
{
	uint8_t back[256];
	int e;

	e = rig_open(r);
	if (!e)
		e = flashop_write(r->f, NVS_OFF, r->img, IMG_LEN, FLASHOP_VERIFY, NULL, NULL);
	if (!e)
		e = flashop_read(r->f, NVS_OFF, back, sizeof(back), NULL, NULL);
	if (!e) {
		assert_true(flash_equals(r, NVS_OFF, r->img, IMG_LEN));
		assert_memory_equal(back, r->img, sizeof(back));
	}
	*elapsed_ms = r->f ? vnow_ms(r) : 0;
	return e;
}

static void check_fault_error(int e, const struct rom_diag *d)
{
	switch (e) {
	case ROM_ETIMEDOUT:
	case ROM_ENOSYNC:
	case ROM_EPROTO:
	case ROM_EFAILED:
	case ROM_EUNSUPPORTED:
	case ROM_EVERIFY:
	case ROM_ECHIP:
	case ROM_EFLASHID:
	case ROM_ESTUB:
	case ROM_ERANGE:
	case ROM_EENCRYPTED: /* a flipped FLASH_CRYPT_CNT bit: refused, not written */
		break;
	default:
		fail_msg("unexpected error %d (%s)", e, rom_strerror(e));
	}
	assert_true(d->msg[0] != '\0');
	assert_null(strchr(d->msg, '\n'));
}

static void test_flashop_sim_drop_after_every_n(void **state)
{
	(void)state;
	int failures = 0, successes = 0;

	for (long long n = 0; n < 70; n += 3) {
		struct rig *r = rig_new(SIMDEV_CHIP_ESP32S3, NULL);
		uint64_t ms;
		simdev_set_drop_after(r->dev, n);
		int e = faulty_job(r, &ms);
		if (e) {
			failures++;
			check_fault_error(e, r->f ? flashop_diag(r->f) : &r->d);
			/* the last step that failed waited its deadline at most
			 * three times (block retries) plus connect attempts */
			assert_true(ms < 60000);
		} else {
			successes++;
		}
		rig_free(r);
	}
	assert_true(failures > 0);
	assert_true(successes > 0); /* a late enough drop lets the job finish */
}

static void test_flashop_sim_corrupt_responses_never_false_success(void **state)
{
	(void)state;
	int failures = 0;

	for (uint64_t seed = 1; seed <= 24; seed++) {
		struct rig *r = rig_new(seed % 2 ? SIMDEV_CHIP_ESP32 : SIMDEV_CHIP_ESP32C3, NULL);
		uint64_t ms;
		simdev_set_corrupt(r->dev, 0.004, seed);
		int e = faulty_job(r, &ms);
		if (e) {
			failures++;
			check_fault_error(e, r->f ? flashop_diag(r->f) : &r->d);
		}
		rig_free(r);
	}
	assert_true(failures > 0);
}

static void test_flashop_sim_timeouts_are_bounded(void **state)
{
	(void)state;
	struct rig *r = rig_new(SIMDEV_CHIP_ESP32C3, NULL);
	uint64_t t0;
	uint8_t buf[64];

	assert_int_equal(rig_open(r), 0);
	simdev_inject(r->dev, 0x0e, 10, 0); /* READ_FLASH_SLOW never answered */
	t0 = vnow_ms(r);
	assert_int_equal(flashop_read(r->f, 0x8000, buf, sizeof(buf), NULL, NULL), ROM_ETIMEDOUT);
	assert_true(vnow_ms(r) - t0 <= 3 * (ROM_DEFAULT_TIMEOUT_MS + 300));
	assert_int_equal(flashop_diag(r->f)->last_cmd, 0x0e);
	rig_free(r);
}

static void test_flashop_sim_cancel_makes_calls_return(void **state)
{
	(void)state;
	struct rig *r = rig_new(SIMDEV_CHIP_ESP32S3, NULL);

	assert_int_equal(rig_open(r), 0);
	flashop_cancel(r->f);
	assert_int_equal(flashop_write(r->f, NVS_OFF, r->img, IMG_LEN, 0, NULL, NULL), ROM_ECANCELED);
	assert_int_equal(flashop_verify(r->f, NVS_OFF, r->img, IMG_LEN), ROM_ECANCELED);
	assert_int_equal(flashop_diag(r->f)->error, ROM_ECANCELED);
	rig_free(r);
}

static void *job_thread(void *arg)
{
	struct rig *r = arg;
	uint64_t ms;

	(void)ms;
	if (rig_open(r) || flashop_write(r->f, NVS_OFF, r->img, IMG_LEN, FLASHOP_VERIFY, NULL, NULL))
		return (void *)1;
	return NULL;
}

static void test_flashop_sim_eight_devices_in_parallel_threads(void **state)
{
	(void)state;
	struct rig *r[8];
	pthread_t th[8];

	for (int i = 0; i < 8; i++) {
		r[i] = rig_new((enum simdev_chip)(i % 3), NULL);
		make_img(r[i]->img, IMG_LEN, (unsigned)i * 17);
		r[i]->o.baud = 921600;
	}
	for (int i = 0; i < 8; i++)
		assert_int_equal(pthread_create(&th[i], NULL, job_thread, r[i]), 0);
	for (int i = 0; i < 8; i++) {
		void *ret;
		pthread_join(th[i], &ret);
		assert_null(ret);
		assert_true(flash_equals(r[i], NVS_OFF, r[i]->img, IMG_LEN));
	}
	for (int i = 0; i < 8; i++)
		rig_free(r[i]);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_flashop_sim_identifies_every_personality),
		cmocka_unit_test(test_flashop_sim_esp32_identification_no_dearer_than_c3),
		cmocka_unit_test(test_flashop_sim_esp32_flash_encryption_from_efuse),
		cmocka_unit_test(test_flashop_sim_write_compressed_115200_and_921600_every_chip),
		cmocka_unit_test(test_flashop_sim_write_plain),
		cmocka_unit_test(test_flashop_sim_read_verify_erase),
		cmocka_unit_test(test_flashop_sim_classic_reset_enters_loader_and_hard_reset_leaves),
		cmocka_unit_test(test_flashop_sim_no_reset_on_app_chip_is_enosync_in_bounded_time),
		cmocka_unit_test(test_flashop_sim_booted_app_is_named),
		cmocka_unit_test(test_flashop_sim_download_mode_but_no_sync_is_named),
		cmocka_unit_test(test_flashop_sim_usb_jtag_reopens_and_disables_watchdogs),
		cmocka_unit_test(test_flashop_sim_usb_port_never_back_is_enodev),
		cmocka_unit_test(test_flashop_sim_usb_jtag_full_cycle),
		cmocka_unit_test(test_flashop_sim_usb_jtag_console_detected_without_usb_reset),
		cmocka_unit_test(test_flashop_sim_uart_console_is_not_usb_jtag),
		cmocka_unit_test(test_flashop_sim_secure_download_mode),
		cmocka_unit_test(test_flashop_sim_lost_reply_retried_with_same_seq),
		cmocka_unit_test(test_flashop_sim_rom_error_bytes_reach_the_caller),
		cmocka_unit_test(test_flashop_sim_garbage_between_responses_is_skipped),
		cmocka_unit_test(test_flashop_sim_drop_after_every_n),
		cmocka_unit_test(test_flashop_sim_corrupt_responses_never_false_success),
		cmocka_unit_test(test_flashop_sim_timeouts_are_bounded),
		cmocka_unit_test(test_flashop_sim_cancel_makes_calls_return),
		cmocka_unit_test(test_flashop_sim_eight_devices_in_parallel_threads),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
