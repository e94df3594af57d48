/* The station's lease of records (`lease = N`, store_lease_*): up to N
 * available records of each product it claims, set aside so that no other
 * station takes them (docs/postgresql.md "Leases").
 *
 * One lease of N per product the station claims (up to
 * STATION_LEASE_PRODUCTS at once), so a station running batches of two
 * products does not move one lease back and forth. It is topped up from
 * the tick, not from the claim: a fill is its own transaction, and inside
 * a round's group commit (station_round.c) a failing fill would take the
 * round's claims down with it. The tick fills after the first claim of a
 * product, and again once about half of its lease is used (counted down
 * per claim, corrected by each fill's answer): one commit per N/2
 * devices, not one per device.
 * The station gives back all it holds (of every product, also what an
 * earlier run leased) when it stops cleanly, when it starts with
 * `lease = 0` and when a reload sets it to 0; a station that died keeps
 * its lease until it starts again or an admin runs
 * `espfab records release-lease`. */
#include <espfab/store.h>
#include <string.h>

#include "log.h"
#include "station.h"
#include "station_int.h"

_Static_assert(CONFIG_LEASE_MAX == STORE_LEASE_MAX, "config.h's lease bound is the store's");

/* The product's slot; a free one when new (NULL: all taken, no lease for
 * it: logged once). */
static struct station_lease_slot *lease_slot(struct station *s, const char *product)
{
	struct station_lease_slot *free_slot = NULL;

	for (size_t i = 0; i < STATION_LEASE_PRODUCTS; i++) {
		struct station_lease_slot *l = &s->lease[i];
		if (!strcmp(l->product, product))
			return l;
		if (!l->product[0] && !free_slot)
			free_slot = l;
	}
	if (free_slot) {
		snprintf(free_slot->product, sizeof(free_slot->product), "%s", product);
		free_slot->left = 0;
		free_slot->due = 1;
	} else if (!s->lease_full_logged) {
		s->lease_full_logged = 1;
		log_msg(LOG_WARNING, NULL, "lease: the station leases for %d products at most: none for %s",
			STATION_LEASE_PRODUCTS, product);
	}
	return free_slot;
}

void station_lease_claimed(struct station *s, const char *product)
{
	struct station_lease_slot *l;

	if (!s->cfg.lease || !(l = lease_slot(s, product)))
		return;
	if (l->left > 0)
		l->left--;
	if (l->left <= (int64_t)s->cfg.lease / 2)
		l->due = 1;
}

void station_lease_tick(struct station *s)
{
	struct store_err serr = {0};
	int64_t held = 0;

	if (!s->cfg.lease || s->txn || s->store_down || s->stopping || station_mono_ms() < s->lease_retry_ms)
		return;
	for (size_t i = 0; i < STATION_LEASE_PRODUCTS; i++) {
		struct station_lease_slot *l = &s->lease[i];
		if (!l->product[0] || !l->due)
			continue;
		if (store_lease_fill(s->store, s->cfg.station, l->product, s->cfg.lease, &held, &serr)) {
			station_store_seen(s, serr.code, &serr);
			log_msg(LOG_WARNING, NULL, "lease: cannot lease records of %s: %s", l->product, serr.msg);
			/* A refused fill (a grant missing after an upgrade:
			 * roles.sql not run again) is tried again in a minute,
			 * not at every tick. */
			s->lease_retry_ms = station_mono_ms() + 60000;
			return;
		}
		l->left = held;
		l->due = 0;
		if (held < (int64_t)s->cfg.lease)
			log_msg(LOG_NOTICE, NULL, "lease: %lld of %u records of %s held (no more free ones)",
				(long long)held, s->cfg.lease, l->product);
	}
}

void station_lease_set(struct station *s, unsigned n, const char *why)
{
	struct store_err serr = {0};
	unsigned was = s->cfg.lease;
	int64_t released = 0;

	s->cfg.lease = n;
	if (n) {
		for (size_t i = 0; n != was && i < STATION_LEASE_PRODUCTS; i++)
			s->lease[i].due = s->lease[i].product[0] != '\0';
		return;
	}
	if (store_lease_release(s->store, s->cfg.station, why, &released, &serr)) {
		station_store_seen(s, serr.code, &serr);
		log_msg(LOG_WARNING, NULL, "lease: cannot give back the records leased to %s: %s", s->cfg.station,
			serr.msg);
		return;
	}
	memset(s->lease, 0, sizeof(s->lease));
	if (released)
		log_msg(LOG_INFO, NULL, "lease: %lld record(s) given back (%s)", (long long)released, why);
}
