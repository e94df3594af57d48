/* The station's lease of records (`lease = N`, store_lease_*): up to N
 * available records of the product it works on, set aside so that no other
 * station takes them (docs/postgresql.md "Leases").
 *
 * The lease is topped up from the tick, not from the claim: a fill is its
 * own transaction, and inside a round's group commit (station_round.c) a
 * failing fill would take the round's claims down with it. The tick fills
 * when the first claim of a product came, and again once about half of
 * the lease is used (counted down per claim, corrected by each fill's
 * answer), so a fill costs one commit per N/2 devices, not one per device.
 * The station gives its lease back when it stops cleanly, when it starts
 * with `lease = 0` (a lease left by an earlier run) and when a reload sets
 * it to 0; a station that died keeps it until it starts again or an admin
 * runs `espfab records release-lease`. */
#include <espfab/store.h>
#include <string.h>

#include "log.h"
#include "station.h"
#include "station_int.h"

_Static_assert(CONFIG_LEASE_MAX == STORE_LEASE_MAX, "config.h's lease bound is the store's");

void station_lease_claimed(struct station *s, const char *product)
{
	if (!s->cfg.lease)
		return;
	snprintf(s->lease_want, sizeof(s->lease_want), "%s", product);
	if (strcmp(s->lease_product, product)) {
		s->lease_due = 1; /* a new product: the tick moves the lease over */
		return;
	}
	if (s->lease_left > 0)
		s->lease_left--;
	if (s->lease_left <= (int64_t)s->cfg.lease / 2)
		s->lease_due = 1;
}

/* Gives back the station's leased records but those of keep (NULL: all).
 * 0, or -1 after a log line. */
static int lease_release(struct station *s, const char *keep, const char *why)
{
	struct store_err serr = {0};
	int64_t n = 0;

	if (store_lease_release(s->store, s->cfg.station, keep, why, &n, &serr)) {
		station_store_seen(s, serr.code, &serr);
		log_msg(LOG_WARNING, NULL, "lease: cannot give back the records leased to %s: %s", s->cfg.station,
			serr.msg);
		return -1;
	}
	if (n)
		log_msg(LOG_INFO, NULL, "lease: %lld record(s) given back (%s)", (long long)n, why);
	return 0;
}

void station_lease_tick(struct station *s)
{
	const char *product = s->lease_want;
	struct store_err serr = {0};
	int64_t held = 0;

	if (!s->cfg.lease || !s->lease_due || s->txn || s->store_down || s->stopping || !product || !*product ||
	    station_mono_ms() < s->lease_retry_ms)
		return;
	/* A refused fill (a grant missing after an upgrade: roles.sql not run
	 * again) is tried again in a minute, not at every tick. */
	s->lease_retry_ms = station_mono_ms() + 60000;
	/* A new product, or the first fill of this run (an earlier run may
	 * have leased another product): the other products' records go back. */
	if (strcmp(s->lease_product, product) && lease_release(s, product, "the station moved to another product"))
		return;
	if (store_lease_fill(s->store, s->cfg.station, product, s->cfg.lease, &held, &serr)) {
		station_store_seen(s, serr.code, &serr);
		log_msg(LOG_WARNING, NULL, "lease: cannot lease records of %s: %s", product, serr.msg);
		return;
	}
	snprintf(s->lease_product, sizeof(s->lease_product), "%s", product);
	s->lease_retry_ms = 0;
	s->lease_left = held;
	s->lease_due = 0;
	if (held < (int64_t)s->cfg.lease)
		log_msg(LOG_NOTICE, NULL, "lease: %lld of %u records of %s held (no more free ones)", (long long)held,
			s->cfg.lease, product);
}

void station_lease_set(struct station *s, unsigned n, const char *why)
{
	unsigned was = s->cfg.lease;

	s->cfg.lease = n;
	if (!n && !lease_release(s, NULL, why)) {
		s->lease_product[0] = '\0';
		s->lease_left = 0;
	} else if (n && n != was)
		s->lease_due = 1;
}
