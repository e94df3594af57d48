/* The station's state, shared by its files. Private to the station: nothing
 * outside station*.c includes it.
 *   station.c          lifecycle (new, tick, stop, free), event broadcast
 *   station_request.c  control requests
 *   station_msg.c      worker messages: inbox and dispatch per kind
 *   station_round.c    group commit of a round, held replies, store outages
 *   station_work.c     work, claim and mark-sent requests of the workers
 *   station_image.c    a claimed record's NVS image
 *   station_result.c   device results, the outbox
 *   station_ports.c    the port table, reload
 *   station_ident.c    per-device identities
 *   station_lease.c    the lease of records (lease = N) */
#ifndef ESPFABD_STATION_INT_H
#define ESPFABD_STATION_INT_H

#include <stdint.h>

#include <jansson.h>

#include "config.h"
#include "jobq.h"
#include "outbox.h"
#include "ctl_msg.h"

struct store;
struct store_err;
struct store_record;
struct store_product;
struct control;
struct uplink;
struct loop;
struct worker;

/* Worker messages handled per round of the inbox; also the most replies a
 * round can hold back (one per message at most). */
#define ROUND_MAX 64

struct station_port {
	char name[CONFIG_NAME_MAX];
	char path[CONFIG_PATH_MAX];
	struct worker *worker;
	int exited;
	char state[16];
	char mac[18];
	char chip[16];
	char step[16];
	uint64_t done, total;
	int64_t batch_id, job_id;
	char record[64];
	char last_result[16];
	char last_error[512];
	char last_mac[18];
	char last_record[64];
	uint32_t last_ms;
	unsigned n_ok, n_failed;
	/* BUDGET. A work reply promises this port a place in a batch before
	 * anything is written (firmware comes before the claim): the promise
	 * counts against the batch's room and the product's available records
	 * until the claim answers or the result arrives. */
	int64_t promised;
	char promised_product[CTL_NAME_MAX];
	/* RELOAD (station_ports.c). configured: from the configuration (a
	 * reload may remove it), not discovered; removing: stop it once its
	 * device is done; removed: the slot is free (its worker joined). */
	int configured, removing, removed;
	char image_sha256[65]; /* of the NVS image claimed for the job, for its audit row */
	int64_t ident_product; /* the claim carried an identity of this product */
};

/* A product's lease (station_lease.c): about how many of its leased
 * records are left, and whether the tick should top it up. */
#define STATION_LEASE_PRODUCTS 8
struct station_lease_slot {
	char product[CTL_NAME_MAX]; /* "" = free */
	int64_t left;
	int due;
};

struct station {
	struct config cfg;
	struct loop *loop;
	struct store *store;
	struct control *ctl;
	struct uplink *uplink;
	struct jobq *inbox;
	int verify_readback;
	uint32_t table_offset;
	unsigned grace_ms;
	void (*on_stopped)(void *ctx);
	void *ctx;
	int stopping;
	uint64_t stop_at_ms;
	int cancelled;
	int stopped_reported;
	size_t nports;
	struct station_port ports[CONFIG_MAX_PORTS * 2];
	unsigned n_ok, n_failed;
	/* Group commit of one inbox round: see txn_open(). */
	int txn;
	size_t nheld;
	struct jobq_msg held[ROUND_MAX];
	json_t *held_ev;
	/* Read once per round, not once per worker message (32 workers ask
	 * for work together): the active batches (dropped by any store write)
	 * and the last product loaded. */
	json_t *round_batches;
	struct store_product *round_prod;
	/* A product's firmware images never change (schema 003): read once,
	 * kept across rounds, shared with the workers by reference. */
	struct fwimg_set *fw;
	int64_t fw_product;
	/* The product's available records, read at most once a second (a
	 * count over the records) and lowered by each new claim in between. */
	char avail_product[CTL_NAME_MAX];
	long long avail_n;
	uint64_t avail_at_ms;
	struct station_ident *ident; /* per-device identities (station_ident.h) */
	/* The database unreachable (a PostgreSQL server down or restarting):
	 * claims fail, so no device is written, and results wait in outbox,
	 * delivered in order when the store answers again (station_tick, with
	 * a doubling wait). round_res: this round's results, re-queued if the
	 * round's commit fails. */
	struct outbox *outbox;
	int store_down;
	char store_error[256];
	char store_down_since[32];
	uint64_t outbox_retry_ms;
	unsigned outbox_wait_ms;
	size_t n_round_res;
	struct outbox_item round_res[ROUND_MAX];
	/* The lease (station_lease.c), one per product claimed. */
	struct station_lease_slot lease[STATION_LEASE_PRODUCTS];
	uint64_t lease_retry_ms; /* no fill before then (monotonic ms) */
	int lease_full_logged;
};

uint64_t station_mono_ms(void);

/* JOBQ_EXITED of a port: a removed port's worker is joined, its slot freed. */
void station_port_exited(struct station *s, struct station_port *p);
/* A port that is not busy and marked removing: stop its worker now. */
void station_port_retire(struct station *s, struct station_port *p);

/* station.c: to the control clients, or held with the round (station_round.c). ev is stolen. */
void station_broadcast(struct station *s, json_t *ev);

/* station_request.c: the product's available records (cached, see struct station), or -1. */
long long station_available(struct station *s, const char *product);

/* station_round.c */
struct station_port *station_port_of(struct station *s, const struct jobq_msg *m);
void station_round_forget(struct station *s);
void station_round_write(struct station *s);
void station_txn_close(struct station *s);
void station_reply_worker(struct station *s, unsigned w, struct jobq_msg *m);
int station_store_seen(struct station *s, int rc, const struct store_err *serr);

/* station_work.c */
void station_on_work_req(struct station *s, struct jobq_msg *m);
void station_on_claim_req(struct station *s, struct jobq_msg *m);
void station_on_sent_req(struct station *s, struct jobq_msg *m);
void station_on_hmac_req(struct station *s, struct jobq_msg *m);

/* station_image.c */
int station_build_image(const struct store_record *r, const uint8_t *xts, uint8_t **out, size_t *len, char *sha_hex, char *msg,
		       size_t cap);

/* station_result.c */
void station_hold_result(struct station *s, const struct jobq_msg *m, const char *port, const char *delivery,
			 int front);
void station_outbox_flush(struct station *s);
void station_on_result(struct station *s, struct jobq_msg *m);

/* station_lease.c: after a claim of product (counts the lease down), from
 * the tick (tops it up). station.h has station_lease_set. */
void station_lease_claimed(struct station *s, const char *product);
void station_lease_tick(struct station *s);

/* station_msg.c */
void station_check_stopped(struct station *s);
void station_on_message(struct station *s, struct jobq_msg *m);
void station_inbox_cb(void *ctx, int fd, uint32_t events);

#endif
