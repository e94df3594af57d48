/* A tiny scripted port for byte-exact protocol tests: virtual time, a log
 * of everything written and every DTR/RTS change, and a responder callback
 * that sees each request frame (SLIP-decoded) and queues reply bytes. */
#ifndef TEST_ROM_FAKEPORT_H
#define TEST_ROM_FAKEPORT_H

#include <stddef.h>
#include <stdint.h>

#include "espfab/port.h"

#define FP_MAX 65536
#define FP_LINES_MAX 64

struct fakeport;
typedef void (*fp_responder)(struct fakeport *fp, const uint8_t *req, size_t len);

struct fp_line {
	int dtr, rts;
	uint64_t at_ms;
};

struct fakeport {
	struct port base;
	uint64_t now;
	uint8_t tx[FP_MAX];     /* raw bytes written */
	size_t tx_len;
	uint8_t rx[FP_MAX];     /* bytes the host can read */
	size_t rx_pos, rx_len;
	fp_responder respond;
	void *user;
	uint8_t req[4096];      /* request frame being decoded */
	size_t req_len;
	int req_in, req_esc;
	unsigned requests;      /* complete request frames seen */
	struct fp_line lines[FP_LINES_MAX];
	unsigned nlines;
	int no_lines;           /* set_lines fails with PORT_EINVAL (pty/TCP) */
	int dtr, rts;
	unsigned reopens, flushes;
	int gone;               /* read/write return PORT_ENODEV */
	uint32_t latency_ms;    /* virtual time each reply takes */
	uint32_t read_cost_ms;  /* 0: reads hand over everything at once; else 32 bytes per read, this much time */
};

/* Caller-allocated (it is big: use fp_new / free). */
struct fakeport *fp_new(fp_responder respond, void *user);
void fp_queue(struct fakeport *fp, const uint8_t *bytes, size_t len);
/* Queue a SLIP-framed response: dir 1, cmd, value, data, then status bytes. */
void fp_reply(struct fakeport *fp, uint8_t cmd, uint32_t value, const uint8_t *data, size_t dlen,
	      uint8_t status, uint8_t err);
/* Decode the i-th request frame written so far into out (returns its length). */
size_t fp_request(const struct fakeport *fp, unsigned i, uint8_t *out, size_t cap);

#endif
