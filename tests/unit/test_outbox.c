/* Unit tests of the outbox and its journal file: held results survive a
 * reopen in their order, delivered ones do not come back, a torn or damaged
 * tail is reported with file:offset and kept, a second opener is refused. */
#include <errno.h>
#include <fcntl.h>
#include <glob.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>
#include <zlib.h>

#include "outbox.h"
#include "outbox_journal.h"

struct fx {
	char dir[64];
	char path[128];
};

static int setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));

	snprintf(f->dir, sizeof(f->dir), "/tmp/test_outbox.XXXXXX");
	if (!mkdtemp(f->dir))
		return -1;
	snprintf(f->path, sizeof(f->path), "%s/outbox.journal", f->dir);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fx *f = *state;
	char cmd[128];

	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", f->dir);
	if (system(cmd))
		return -1;
	free(f);
	return 0;
}

#define ID_A "0123456789abcdef0123456789abcdef"

static int is_id(const char *id)
{
	return strlen(id) == OUTBOX_DELIVERY_LEN && strspn(id, "0123456789abcdef") == OUTBOX_DELIVERY_LEN;
}

static struct jobq_msg result(int n)
{
	struct jobq_msg m;

	memset(&m, 0, sizeof(m));
	m.kind = JOBQ_RESULT;
	m.rc = n % 2 ? 0 : -1;
	m.u.result.sent = 1;
	m.job_id = 100 + n;
	m.batch_id = 7;
	m.u.result.duration_ms = 1000u + (uint32_t)n;
	m.u.result.ident = JOBQ_IDENT_CHECK;
	m.u.result.ident_product = 3;
	m.u.result.hmac = n % 2 ? 0x80000105u + (uint32_t)n : 0; /* any bits: the journal keeps them as they are */
	snprintf(m.mac, sizeof(m.mac), "24:0a:c4:00:00:%02x", n);
	snprintf(m.chip, sizeof(m.chip), "ESP32-C3");
	snprintf(m.u.result.record, sizeof(m.u.result.record), "rec-%d", n);
	snprintf(m.u.result.flash_md5, sizeof(m.u.result.flash_md5), "%032x", n);
	snprintf(m.error, sizeof(m.error), "%s", n % 2 ? "" : "verify failed at 0x9000");
	m.data = (uint8_t *)&m; /* never kept */
	return m;
}

static void push(struct outbox *o, int n, int front)
{
	struct jobq_msg m = result(n);
	struct outbox_err err;

	assert_int_equal(outbox_push(o, &m, "s1", NULL, front, &err), 0);
}

static void expect(struct outbox *o, const int *order, size_t n)
{
	struct outbox_err err;

	assert_int_equal(outbox_len(o), n);
	for (size_t i = 0; i < n; i++) {
		const struct outbox_item *it = outbox_peek(o);
		struct jobq_msg want = result(order[i]);
		assert_non_null(it);
		assert_int_equal(it->m.job_id, want.job_id);
		assert_int_equal(it->m.rc, want.rc);
		assert_int_equal(it->m.u.result.sent, 1);
		assert_int_equal(it->m.u.result.duration_ms, want.u.result.duration_ms);
		assert_int_equal(it->m.u.result.ident, JOBQ_IDENT_CHECK);
		assert_int_equal(it->m.u.result.ident_product, 3);
		assert_int_equal(it->m.u.result.hmac, want.u.result.hmac);
		assert_string_equal(it->m.mac, want.mac);
		assert_string_equal(it->m.u.result.record, want.u.result.record);
		assert_string_equal(it->m.u.result.flash_md5, want.u.result.flash_md5);
		assert_string_equal(it->m.error, want.error);
		assert_string_equal(it->port, "s1");
		assert_null(it->m.data);
		assert_int_equal(outbox_pop(o, &err), 0);
	}
	assert_null(outbox_peek(o));
}

static struct outbox *open_ok(const char *path, struct outbox_err *err)
{
	struct outbox *o = NULL;

	assert_int_equal(outbox_open(&o, path, err), 0);
	assert_non_null(o);
	return o;
}

static off_t size_of(const char *path)
{
	struct stat st;

	assert_int_equal(stat(path, &st), 0);
	return st.st_size;
}

static void test_outbox_memory_only_keeps_order(void **state)
{
	struct outbox_err err;
	struct outbox *o = open_ok(NULL, &err);

	(void)state;
	push(o, 1, 0);
	push(o, 2, 0);
	push(o, 0, 1); /* a failed round goes before what came after it */
	expect(o, (const int[]){0, 1, 2}, 3);
	outbox_free(o);
}

static void test_outbox_journal_survives_reopen(void **state)
{
	struct fx *f = *state;
	struct outbox_err err;
	struct outbox *o = open_ok(f->path, &err);

	push(o, 1, 0);
	push(o, 2, 0);
	push(o, 3, 0);
	push(o, 0, 1);
	assert_int_equal(outbox_pop(o, &err), 0); /* 0 reached the store */
	outbox_free(o);                           /* as if killed: nothing else is written */
	o = open_ok(f->path, &err);
	assert_int_equal(err.damaged, 0);
	push(o, 4, 0);
	outbox_free(o);
	o = open_ok(f->path, &err);
	expect(o, (const int[]){1, 2, 3, 4}, 4);
	/* all delivered: the journal is back to its header */
	assert_int_equal(size_of(f->path), OUTBOX_JOURNAL_MAGIC_LEN);
	outbox_free(o);
	o = open_ok(f->path, &err);
	assert_int_equal(outbox_len(o), 0);
	outbox_free(o);
}

static void test_outbox_second_opener_refused(void **state)
{
	struct fx *f = *state;
	struct outbox_err err;
	struct outbox *o = open_ok(f->path, &err), *o2 = NULL;

	assert_int_equal(outbox_open(&o2, f->path, &err), -EBUSY);
	assert_null(o2);
	assert_non_null(strstr(err.msg, f->path));
	outbox_free(o);
}

static size_t kept_copies(const struct fx *f)
{
	char pat[160];
	glob_t g;
	size_t n;

	snprintf(pat, sizeof(pat), "%s.damaged-*", f->path);
	if (glob(pat, 0, NULL, &g))
		return 0;
	n = g.gl_pathc;
	globfree(&g);
	return n;
}

/* Three held, then the file is cut or a byte flipped at cut_at from its end. */
static void damaged_case(struct fx *f, int flip, off_t from_end, size_t want_loaded)
{
	struct outbox_err err;
	struct outbox *o = open_ok(f->path, &err);
	char want[160];
	off_t full;
	int fd;

	push(o, 1, 0);
	push(o, 2, 0);
	push(o, 3, 0);
	outbox_free(o);
	full = size_of(f->path);
	fd = open(f->path, O_RDWR);
	assert_true(fd >= 0);
	if (flip) {
		uint8_t b;
		assert_int_equal(pread(fd, &b, 1, full - from_end), 1);
		b ^= 0x40;
		assert_int_equal(pwrite(fd, &b, 1, full - from_end), 1);
	} else {
		assert_int_equal(ftruncate(fd, full - from_end), 0);
	}
	close(fd);
	o = open_ok(f->path, &err);
	assert_int_equal(err.damaged, 1);
	snprintf(want, sizeof(want), "%s:", f->path);
	assert_int_equal(strncmp(err.msg, want, strlen(want)), 0);
	assert_null(strchr(err.msg, '\n'));
	assert_int_equal(kept_copies(f), 1);
	assert_int_equal(outbox_len(o), want_loaded);
	/* the journal takes new results after the good frames */
	push(o, 9, 0);
	outbox_free(o);
	o = open_ok(f->path, &err);
	assert_int_equal(err.damaged, 0);
	assert_int_equal(outbox_len(o), want_loaded + 1);
	outbox_free(o);
}

static void test_outbox_torn_tail_reported_and_kept(void **state)
{
	struct fx *f = *state;

	damaged_case(f, 0, 5, 2);
}

static void test_outbox_flipped_byte_reported_and_kept(void **state)
{
	struct fx *f = *state;

	damaged_case(f, 1, 3, 2);
}

static void test_outbox_foreign_file_refused_as_damage(void **state)
{
	struct fx *f = *state;
	struct outbox_err err;
	struct outbox *o;
	FILE *fp = fopen(f->path, "w");

	assert_non_null(fp);
	fputs("not a journal\n", fp);
	fclose(fp);
	o = open_ok(f->path, &err);
	assert_int_equal(err.damaged, 1);
	assert_non_null(strstr(err.msg, ":0: not an outbox journal"));
	assert_int_equal(outbox_len(o), 0);
	assert_int_equal(kept_copies(f), 1);
	outbox_free(o);
}

static void test_outbox_journal_frame_roundtrip(void **state)
{
	struct outbox_journal_rec rec = {.type = OUTBOX_JOURNAL_HELD, .key = -5}, back;
	uint8_t buf[OUTBOX_JOURNAL_FRAME_MAX + 8];
	char msg[128];
	size_t n, off = 0;

	(void)state;
	rec.item.m = result(4);
	rec.item.m.data = NULL;
	memset(rec.item.m.error, 'x', sizeof(rec.item.m.error) - 1); /* the longest text */
	rec.item.m.error[sizeof(rec.item.m.error) - 1] = '\0';
	snprintf(rec.item.port, sizeof(rec.item.port), "line-1");
	snprintf(rec.item.delivery, sizeof(rec.item.delivery), "%s", ID_A);
	rec.item.m.u.result.hmac = 0xdeadbeefu;
	n = outbox_journal_encode(&rec, buf, sizeof(buf));
	assert_true(n > 0);
	assert_int_equal(outbox_journal_next(buf, n, OUTBOX_JOURNAL_VERSION, &off, &back, msg, sizeof(msg)), 0);
	assert_int_equal(off, n);
	assert_int_equal(back.key, -5);
	assert_string_equal(back.item.m.error, rec.item.m.error);
	assert_string_equal(back.item.port, "line-1");
	assert_string_equal(back.item.delivery, rec.item.delivery);
	assert_int_equal(back.item.m.u.result.hmac, 0xdeadbeefu);
	assert_int_equal(outbox_journal_next(buf, n, OUTBOX_JOURNAL_VERSION, &off, &back, msg, sizeof(msg)), 1);
	/* one byte short: torn, and the offset stays at the frame */
	off = 0;
	assert_int_equal(outbox_journal_next(buf, n - 1, OUTBOX_JOURNAL_VERSION, &off, &back, msg, sizeof(msg)), -1);
	assert_int_equal(off, 0);
	assert_non_null(strstr(msg, "torn frame"));
}

/* Each held result has its delivery id from the push on (the given one, or
 * a new one), and keeps it across a reopen: a result sent again after a
 * crash is sent under the id it had. */
static void test_outbox_delivery_ids_kept(void **state)
{
	struct fx *f = *state;
	struct outbox_err err;
	struct outbox *o = open_ok(f->path, &err);
	struct jobq_msg m = result(1);
	char ids[3][OUTBOX_DELIVERY_LEN + 1];

	assert_int_equal(outbox_push(o, &m, "s1", ID_A, 0, &err), 0);
	push(o, 2, 0);
	push(o, 3, 0);
	outbox_free(o);
	o = open_ok(f->path, &err);
	assert_int_equal(outbox_len(o), 3);
	for (int i = 0; i < 3; i++) {
		const struct outbox_item *it = outbox_peek(o);
		assert_true(is_id(it->delivery));
		memcpy(ids[i], it->delivery, sizeof(ids[i]));
		assert_int_equal(outbox_pop(o, &err), 0);
	}
	assert_string_equal(ids[0], ID_A);
	assert_string_not_equal(ids[1], ids[2]);
	assert_string_not_equal(ids[1], ID_A);
	outbox_free(o);
	/* fresh ids are random: two in a row differ */
	assert_int_equal(outbox_delivery_new(ids[0]), 0);
	assert_int_equal(outbox_delivery_new(ids[1]), 0);
	assert_true(is_id(ids[0]));
	assert_string_not_equal(ids[0], ids[1]);
}

/* The frame header (body length, checksum) of a frame of n bytes redone. */
static size_t refit(uint8_t *fr, size_t n)
{
	uint32_t blen = (uint32_t)(n - 8), crc = (uint32_t)crc32(0L, fr + 8, blen);

	for (int i = 0; i < 4; i++) {
		fr[i] = (uint8_t)(blen >> (8 * i));
		fr[4 + i] = (uint8_t)(crc >> (8 * i));
	}
	return n;
}

/* A held frame of version 3 as version 2 wrote it: without the trailing
 * u32 hmac. */
static size_t to_v2(uint8_t *fr, size_t n)
{
	return refit(fr, n - 4);
}

/* ... and as version 1 wrote it: also without the delivery field (u16 len
 * + bytes right after the key). */
static size_t to_v1(uint8_t *fr, size_t n)
{
	size_t body = 8, id_at = body + 9, id_len;

	n = to_v2(fr, n);
	id_len = 2 + (size_t)(fr[id_at] | fr[id_at + 1] << 8);
	memmove(fr + id_at, fr + id_at + id_len, n - id_at - id_len);
	return refit(fr, n - id_len);
}

/* Results held by an espfabd before delivery ids: read, given ids before
 * anything is delivered, and the file rewritten in this version so those ids
 * survive the next crash. */
static void test_outbox_version1_journal_gets_ids(void **state)
{
	struct fx *f = *state;
	struct outbox_journal_rec rec = {.type = OUTBOX_JOURNAL_HELD};
	uint8_t fr[OUTBOX_JOURNAL_FRAME_MAX + 8];
	char ids[2][OUTBOX_DELIVERY_LEN + 1], upgrade[160];
	struct outbox_err err;
	struct outbox *o;
	FILE *fp = fopen(f->path, "wb");
	uint8_t head[OUTBOX_JOURNAL_MAGIC_LEN];

	assert_non_null(fp);
	fputs(OUTBOX_JOURNAL_MAGIC_V1, fp);
	for (int i = 0; i < 2; i++) {
		rec.key = i;
		rec.item.m = result(i + 1);
		rec.item.m.data = NULL;
		snprintf(rec.item.port, sizeof(rec.item.port), "s1");
		size_t n = to_v1(fr, outbox_journal_encode(&rec, fr, sizeof(fr)));
		assert_int_equal(fwrite(fr, 1, n, fp), n);
	}
	fclose(fp);
	o = open_ok(f->path, &err);
	assert_int_equal(err.damaged, 0);
	outbox_free(o);
	fp = fopen(f->path, "rb");
	assert_non_null(fp);
	assert_int_equal(fread(head, 1, sizeof(head), fp), sizeof(head));
	fclose(fp);
	assert_memory_equal(head, OUTBOX_JOURNAL_MAGIC, OUTBOX_JOURNAL_MAGIC_LEN);
	snprintf(upgrade, sizeof(upgrade), "%s.upgrade", f->path);
	assert_int_equal(access(upgrade, F_OK), -1);
	o = open_ok(f->path, &err);
	for (int i = 0; i < 2; i++) {
		const struct outbox_item *it = outbox_peek(o);
		assert_int_equal(it->m.job_id, result(i + 1).job_id);
		assert_true(is_id(it->delivery));
		memcpy(ids[i], it->delivery, sizeof(ids[i]));
		assert_int_equal(outbox_pop(o, &err), 0);
	}
	assert_string_not_equal(ids[0], ids[1]);
	outbox_free(o);
}

/* Results held by an espfabd before the HMAC bits (version 2): read with
 * their ids and no HMAC bits (it kept none), and the file rewritten as
 * version 3. */
static void test_outbox_version2_journal_upgraded(void **state)
{
	struct fx *f = *state;
	struct outbox_journal_rec rec = {.type = OUTBOX_JOURNAL_HELD};
	uint8_t fr[OUTBOX_JOURNAL_FRAME_MAX + 8], head[OUTBOX_JOURNAL_MAGIC_LEN];
	struct outbox_err err;
	struct outbox *o;
	FILE *fp = fopen(f->path, "wb");

	assert_non_null(fp);
	fputs(OUTBOX_JOURNAL_MAGIC_V2, fp);
	rec.item.m = result(1);
	rec.item.m.data = NULL;
	snprintf(rec.item.port, sizeof(rec.item.port), "s1");
	snprintf(rec.item.delivery, sizeof(rec.item.delivery), "%s", ID_A);
	size_t n = to_v2(fr, outbox_journal_encode(&rec, fr, sizeof(fr)));
	assert_int_equal(fwrite(fr, 1, n, fp), n);
	fclose(fp);
	o = open_ok(f->path, &err);
	assert_int_equal(err.damaged, 0);
	assert_int_equal(outbox_len(o), 1);
	assert_string_equal(outbox_peek(o)->delivery, ID_A);
	assert_int_equal(outbox_peek(o)->m.u.result.hmac, 0);
	assert_int_equal(outbox_peek(o)->m.job_id, result(1).job_id);
	outbox_free(o);
	fp = fopen(f->path, "rb");
	assert_non_null(fp);
	assert_int_equal(fread(head, 1, sizeof(head), fp), sizeof(head));
	fclose(fp);
	assert_memory_equal(head, OUTBOX_JOURNAL_MAGIC, OUTBOX_JOURNAL_MAGIC_LEN);
	o = open_ok(f->path, &err);
	assert_string_equal(outbox_peek(o)->delivery, ID_A);
	outbox_free(o);
}

static void test_outbox_journal_bad_delivery_id_is_damage(void **state)
{
	struct outbox_journal_rec rec = {.type = OUTBOX_JOURNAL_HELD}, back;
	uint8_t buf[OUTBOX_JOURNAL_FRAME_MAX + 8];
	char msg[128];
	size_t n, off = 0;

	(void)state;
	rec.item.m = result(2);
	rec.item.m.data = NULL;
	snprintf(rec.item.delivery, sizeof(rec.item.delivery), "0123456789ABCDEF0123456789abcdef");
	n = outbox_journal_encode(&rec, buf, sizeof(buf));
	assert_int_equal(outbox_journal_next(buf, n, OUTBOX_JOURNAL_VERSION, &off, &back, msg, sizeof(msg)), -1);
	assert_non_null(strstr(msg, "delivery id"));
	snprintf(rec.item.delivery, sizeof(rec.item.delivery), "0123");
	n = outbox_journal_encode(&rec, buf, sizeof(buf));
	assert_int_equal(outbox_journal_next(buf, n, OUTBOX_JOURNAL_VERSION, &off, &back, msg, sizeof(msg)), -1);
	assert_int_equal(off, 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_outbox_memory_only_keeps_order),
		cmocka_unit_test_setup_teardown(test_outbox_journal_survives_reopen, setup, teardown),
		cmocka_unit_test_setup_teardown(test_outbox_second_opener_refused, setup, teardown),
		cmocka_unit_test_setup_teardown(test_outbox_torn_tail_reported_and_kept, setup, teardown),
		cmocka_unit_test_setup_teardown(test_outbox_flipped_byte_reported_and_kept, setup, teardown),
		cmocka_unit_test_setup_teardown(test_outbox_foreign_file_refused_as_damage, setup, teardown),
		cmocka_unit_test(test_outbox_journal_frame_roundtrip),
		cmocka_unit_test_setup_teardown(test_outbox_delivery_ids_kept, setup, teardown),
		cmocka_unit_test_setup_teardown(test_outbox_version1_journal_gets_ids, setup, teardown),
		cmocka_unit_test_setup_teardown(test_outbox_version2_journal_upgraded, setup, teardown),
		cmocka_unit_test(test_outbox_journal_bad_delivery_id_is_damage),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
