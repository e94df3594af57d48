/* The in-process fake port: port.h ops over the engine on virtual time. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "espfab/simdev_fakeport.h"
#include "espfab/slip.h"

struct rig {
	struct simdev *dev;
	struct port *p;
};

static void rig_up(struct rig *r, int start_in_download)
{
	struct simdev_config c;

	simdev_config_default(&c);
	c.start_in_download = start_in_download;
	assert_int_equal(simdev_new(&c, &r->dev, NULL), 0);
	assert_int_equal(simdev_fakeport_new(r->dev, "fake:test", 115200, &r->p), PORT_OK);
	assert_string_equal(r->p->name, "fake:test");
	assert_ptr_equal(simdev_fakeport_dev(r->p), r->dev);
}

static void rig_down(struct rig *r)
{
	port_close(r->p);
	simdev_free(r->dev);
}

static void send_sync(struct port *p)
{
	uint8_t pkt[44] = { 0x00, 0x08, 36, 0, 0, 0, 0, 0, 0x07, 0x07, 0x12, 0x20 };
	uint8_t enc[SLIP_ENCODED_MAX(44)];
	size_t n;

	memset(pkt + 12, 0x55, 32);
	n = slip_encode(pkt, sizeof(pkt), enc);
	assert_int_equal(p->ops->write(p, enc, n, p->ops->now_ms(p) + 100), PORT_OK);
}

/* Read frames until the deadline; returns how many SYNC replies arrived. */
static int count_frames(struct port *p, uint64_t deadline, uint8_t cmd)
{
	uint8_t fb[256], buf[64];
	struct slip_decoder dec;
	int frames = 0;

	slip_decoder_init(&dec, fb, sizeof(fb));
	for (;;) {
		size_t got = 0;
		int rc = p->ops->read(p, buf, sizeof(buf), &got, deadline);

		if (rc == PORT_ETIMEDOUT)
			break;
		assert_int_equal(rc, PORT_OK);
		assert_true(got > 0);
		for (size_t i = 0; i < got; i++)
			if (slip_feed(&dec, buf[i]) == SLIP_FRAME && dec.buf[0] == 1 && dec.buf[1] == cmd)
				frames++;
	}
	return frames;
}

/* SYNC, then the number of SYNC replies within ms of virtual time. */
static int sync_replies(struct port *p, uint32_t ms)
{
	send_sync(p);
	return count_frames(p, p->ops->now_ms(p) + ms, 0x08);
}

static void test_simdev_fakeport_sync_on_virtual_time(void **state)
{
	struct rig r;
	uint64_t t0;

	(void)state;
	rig_up(&r, 1);
	t0 = r.p->ops->now_ms(r.p);
	assert_int_equal(t0, 0);
	send_sync(r.p);
	assert_int_equal(count_frames(r.p, 1000, 0x08), 8);
	/* read timed out: the clock sits at the deadline, no real waiting */
	assert_int_equal(r.p->ops->now_ms(r.p), 1000);
	assert_int_equal(simdev_fakeport_counters(r.p)->timeouts, 1);
	rig_down(&r);
}

static void test_simdev_fakeport_read_returns_when_bytes_arrive(void **state)
{
	struct rig r;
	uint8_t b[8];
	size_t got = 0;
	uint64_t ns;

	(void)state;
	rig_up(&r, 1);
	send_sync(r.p);
	assert_int_equal(r.p->ops->read(r.p, b, sizeof(b), &got, 5000), PORT_OK);
	assert_true(got >= 1);
	/* 46 bytes in + first byte out at 115200: ~4.1 ms, not the deadline */
	ns = simdev_fakeport_now_ns(r.p);
	assert_true(ns > 3900000 && ns < 4300000);
	rig_down(&r);
}

static void test_simdev_fakeport_timeout_when_silent(void **state)
{
	struct rig r;
	uint8_t b[8];
	size_t got = 7;

	(void)state;
	rig_up(&r, 0); /* running the app: the loader is silent */
	send_sync(r.p);
	assert_int_equal(r.p->ops->read(r.p, b, sizeof(b), &got, 100), PORT_ETIMEDOUT);
	assert_int_equal(got, 0);
	assert_int_equal(r.p->ops->now_ms(r.p), 100);
	r.p->ops->sleep_ms(r.p, 250);
	assert_int_equal(r.p->ops->now_ms(r.p), 350);
	rig_down(&r);
}

static void test_simdev_fakeport_reset_lines_recorded(void **state)
{
	struct rig r;
	const struct simdev_line_event *ev;
	size_t n;

	(void)state;
	rig_up(&r, 0);
	/* a classic reset through the port seam */
	assert_int_equal(r.p->ops->set_lines(r.p, 0, 1), PORT_OK);
	r.p->ops->sleep_ms(r.p, 100);
	assert_int_equal(r.p->ops->set_lines(r.p, 1, 0), PORT_OK);
	r.p->ops->sleep_ms(r.p, 50);
	assert_int_equal(r.p->ops->set_lines(r.p, 0, -1), PORT_OK);
	n = simdev_line_log(r.dev, &ev);
	assert_int_equal(n, 3);
	assert_int_equal(ev[0].t_ns, 0);
	assert_int_equal(ev[1].t_ns, 100000000ull);
	assert_int_equal(ev[1].dtr, 1);
	assert_int_equal(ev[1].rts, 0);
	assert_int_equal(ev[2].dtr, 0);
	assert_int_equal(ev[2].rts, 0);
	assert_int_equal(simdev_state(r.dev), SIMDEV_STATE_DOWNLOAD);
	/* the boot log is waiting; flush_input drops it */
	assert_int_equal(r.p->ops->flush_input(r.p), PORT_OK);
	assert_int_equal(sync_replies(r.p, 200), 8);
	rig_down(&r);
}

static void test_simdev_fakeport_baud_mismatch_is_noise(void **state)
{
	struct rig r;

	(void)state;
	rig_up(&r, 1);
	assert_int_equal(r.p->ops->set_baud(r.p, 921600), PORT_OK);
	assert_int_equal(r.p->baud, 921600);
	send_sync(r.p);
	assert_int_equal(count_frames(r.p, 500, 0x08), 0);
	assert_int_equal(r.p->ops->set_baud(r.p, 115200), PORT_OK);
	send_sync(r.p);
	assert_int_equal(count_frames(r.p, 1000, 0x08), 8);
	rig_down(&r);
}

static void test_simdev_fakeport_cancel_and_fail_knobs(void **state)
{
	struct rig r;
	uint8_t b[4];
	size_t got;

	(void)state;
	rig_up(&r, 1);
	simdev_fakeport_fail_io(r.p, PORT_ENODEV);
	assert_int_equal(r.p->ops->read(r.p, b, sizeof(b), &got, 10), PORT_ENODEV);
	assert_int_equal(r.p->ops->write(r.p, b, 1, 10), PORT_ENODEV);
	simdev_fakeport_fail_reopen(r.p, 3);
	assert_int_equal(r.p->ops->reopen(r.p, 150), PORT_ENODEV);
	assert_int_equal(r.p->ops->reopen(r.p, r.p->ops->now_ms(r.p) + 1000), PORT_OK);
	assert_int_equal(r.p->ops->now_ms(r.p), 250);
	assert_int_equal(r.p->ops->write(r.p, b, 1, 10), PORT_OK); /* reopened: works again */
	r.p->cancelled = 1;
	assert_int_equal(r.p->ops->read(r.p, b, sizeof(b), &got, 10), PORT_ECANCELED);
	assert_int_equal(r.p->ops->write(r.p, b, 1, 10), PORT_ECANCELED);
	rig_down(&r);
}

static void rig_usb(struct rig *r, enum simdev_chip chip, uint32_t reenum_ms, uint32_t wdt_ms)
{
	struct simdev_config c;

	simdev_config_default(&c);
	c.chip = chip;
	c.usb_jtag = 1;
	c.usb_reenum_ms = reenum_ms;
	c.wdt_ms = wdt_ms;
	c.start_in_download = 0;
	assert_int_equal(simdev_new(&c, &r->dev, NULL), 0);
	assert_int_equal(simdev_fakeport_new(r->dev, NULL, 115200, &r->p), PORT_OK);
}

/* esptool's USBJTAGSerialReset through the port seam */
static int usb_reset(struct port *p)
{
	int rc = 0;

	rc |= p->ops->set_lines(p, 0, 0);
	p->ops->sleep_ms(p, 100);
	rc |= p->ops->set_lines(p, 1, 0);
	p->ops->sleep_ms(p, 100);
	rc |= p->ops->set_lines(p, -1, 1);
	rc |= p->ops->set_lines(p, 0, -1);
	rc |= p->ops->set_lines(p, -1, 1);
	p->ops->sleep_ms(p, 100);
	rc |= p->ops->set_lines(p, 0, 0);
	return rc;
}

static void test_simdev_fakeport_usb_reset_reenumerates(void **state)
{
	struct rig r;
	uint8_t b[8];
	size_t got;

	(void)state;
	rig_usb(&r, SIMDEV_CHIP_ESP32C3, 300, 0);
	assert_int_equal(usb_reset(r.p), PORT_OK);
	assert_int_equal(simdev_state(r.dev), SIMDEV_STATE_RESET); /* boot is 1 ms away */
	r.p->ops->sleep_ms(r.p, 10);
	/* the device dropped off the bus: this fd is dead */
	assert_int_equal(r.p->ops->read(r.p, b, sizeof(b), &got, 20), PORT_ENODEV);
	assert_int_equal(r.p->ops->write(r.p, b, 1, 20), PORT_ENODEV);
	assert_int_equal(simdev_state(r.dev), SIMDEV_STATE_DOWNLOAD);
	/* reopen polls until it is back (300 ms after the boot) */
	assert_int_equal(r.p->ops->reopen(r.p, r.p->ops->now_ms(r.p) + 100), PORT_ENODEV);
	assert_int_equal(r.p->ops->reopen(r.p, r.p->ops->now_ms(r.p) + 2000), PORT_OK);
	assert_true(r.p->ops->now_ms(r.p) >= 300 + 301);
	assert_int_equal(sync_replies(r.p, 200), 8);
	/* a plain RTS pulse (esptool HardReset) boots the app */
	assert_int_equal(r.p->ops->set_lines(r.p, 0, 1), PORT_OK);
	r.p->ops->sleep_ms(r.p, 200);
	assert_int_equal(r.p->ops->set_lines(r.p, 0, 0), PORT_OK);
	r.p->ops->sleep_ms(r.p, 200);
	assert_int_equal(simdev_state(r.dev), SIMDEV_STATE_APP);
	assert_int_equal(r.p->ops->reopen(r.p, r.p->ops->now_ms(r.p) + 2000), PORT_OK);
	assert_int_equal(sync_replies(r.p, 200), 0);
	rig_down(&r);
}

static void write_reg_port(struct port *p, uint32_t addr, uint32_t val)
{
	uint8_t pkt[24] = { 0x00, 0x09, 16, 0 };
	uint8_t enc[SLIP_ENCODED_MAX(24)];
	size_t n;

	for (int i = 0; i < 4; i++) {
		pkt[8 + i] = (uint8_t)(addr >> (8 * i));
		pkt[12 + i] = (uint8_t)(val >> (8 * i));
		pkt[16 + i] = 0xFF;
	}
	n = slip_encode(pkt, sizeof(pkt), enc);
	assert_int_equal(p->ops->write(p, enc, n, p->ops->now_ms(p) + 100), PORT_OK);
	assert_int_equal(count_frames(p, p->ops->now_ms(p) + 20, 0x09), 1);
}

static void test_simdev_fakeport_usb_watchdog(void **state)
{
	struct rig r;
	uint8_t b[8];
	size_t got;

	(void)state;
	/* nobody disables the watchdogs: the chip resets 2 s after boot */
	rig_usb(&r, SIMDEV_CHIP_ESP32S3, 0, 2000);
	assert_int_equal(usb_reset(r.p), PORT_OK);
	r.p->ops->sleep_ms(r.p, 5);
	assert_int_equal(r.p->ops->flush_input(r.p), PORT_OK);
	assert_int_equal(simdev_reg_read(r.dev, 0x3FCEF14Cu), 4); /* console: USB-Serial/JTAG */
	assert_int_equal(sync_replies(r.p, 100), 8);
	/* without the key the write does not stick */
	write_reg_port(r.p, 0x60008098u, 0);
	assert_int_not_equal(simdev_reg_read(r.dev, 0x60008098u), 0);
	assert_int_equal(r.p->ops->read(r.p, b, sizeof(b), &got, 3000), PORT_ENODEV);
	assert_int_equal(simdev_stats(r.dev)->wdt_resets, 1);
	assert_int_equal(simdev_state(r.dev), SIMDEV_STATE_APP);
	rig_down(&r);

	/* esptool's disable_watchdogs: the chip stays in the loader */
	rig_usb(&r, SIMDEV_CHIP_ESP32S3, 0, 2000);
	assert_int_equal(usb_reset(r.p), PORT_OK);
	r.p->ops->sleep_ms(r.p, 5);
	write_reg_port(r.p, 0x600080B0u, 0x50D83AA1u);
	write_reg_port(r.p, 0x60008098u, 0);
	write_reg_port(r.p, 0x600080B0u, 0);
	write_reg_port(r.p, 0x600080B8u, 0x8F1D312Au);
	write_reg_port(r.p, 0x600080B4u, 1u << 31);
	write_reg_port(r.p, 0x600080B8u, 0);
	r.p->ops->sleep_ms(r.p, 10000);
	assert_int_equal(sync_replies(r.p, 100), 8);
	assert_int_equal(simdev_stats(r.dev)->wdt_resets, 0);
	rig_down(&r);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_simdev_fakeport_sync_on_virtual_time),
		cmocka_unit_test(test_simdev_fakeport_read_returns_when_bytes_arrive),
		cmocka_unit_test(test_simdev_fakeport_timeout_when_silent),
		cmocka_unit_test(test_simdev_fakeport_reset_lines_recorded),
		cmocka_unit_test(test_simdev_fakeport_baud_mismatch_is_noise),
		cmocka_unit_test(test_simdev_fakeport_cancel_and_fail_knobs),
		cmocka_unit_test(test_simdev_fakeport_usb_reset_reenumerates),
		cmocka_unit_test(test_simdev_fakeport_usb_watchdog),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
