/* The lifecycles' names and transitions. See espfab/store_state.h. */
#include "espfab/store_state.h"

#include <stddef.h>
#include <string.h>

static const char *const record_names[STORE_RECORD_STATE_COUNT_] = {
	[STORE_RECORD_AVAILABLE] = "available", [STORE_RECORD_RESERVED] = "reserved",
	[STORE_RECORD_SENT] = "sent",           [STORE_RECORD_VERIFIED] = "verified",
	[STORE_RECORD_RETIRED] = "retired",
};

static const char *const job_names[STORE_JOB_STATE_COUNT_] = {
	[STORE_JOB_RESERVED] = "reserved", [STORE_JOB_SENT] = "sent",     [STORE_JOB_VERIFIED] = "verified",
	[STORE_JOB_RELEASED] = "released", [STORE_JOB_FAILED] = "failed", [STORE_JOB_INTERRUPTED] = "interrupted",
};

static const char *const batch_names[STORE_BATCH_STATE_COUNT_] = {
	[STORE_BATCH_ACTIVE] = "active",
	[STORE_BATCH_PAUSED] = "paused",
	[STORE_BATCH_DONE] = "done",
	[STORE_BATCH_CANCELLED] = "cancelled",
};

/* "none" is no row (see the enum): never stored, so never parsed from the schema's strings. */
static const char *const hmac_names[STORE_HMAC_STATE_COUNT_] = {
	[STORE_HMAC_NONE] = "none",       [STORE_HMAC_BURNING] = "key-burning", [STORE_HMAC_BURNT] = "key-burnt",
	[STORE_HMAC_DONE] = "done",       [STORE_HMAC_REWORK] = "rework",       [STORE_HMAC_REFUSED] = "refused",
};

static const struct {
	const char *const *names;
	int count;
} lifecycles[STORE_LC_COUNT_] = {
	[STORE_LC_RECORD] = {record_names, STORE_RECORD_STATE_COUNT_},
	[STORE_LC_JOB] = {job_names, STORE_JOB_STATE_COUNT_},
	[STORE_LC_BATCH] = {batch_names, STORE_BATCH_STATE_COUNT_},
	[STORE_LC_HMAC] = {hmac_names, STORE_HMAC_STATE_COUNT_},
};

/* THE TRANSITIONS, by the call that makes them. */
static const struct {
	enum store_lifecycle lc;
	int from, to;
} transitions[] = {
	/* records */
	{STORE_LC_RECORD, STORE_RECORD_AVAILABLE, STORE_RECORD_RESERVED}, /* claim */
	{STORE_LC_RECORD, STORE_RECORD_RESERVED, STORE_RECORD_AVAILABLE}, /* release, recover */
	{STORE_LC_RECORD, STORE_RECORD_RESERVED, STORE_RECORD_SENT},      /* mark sent, fail: bound */
	{STORE_LC_RECORD, STORE_RECORD_SENT, STORE_RECORD_VERIFIED},      /* mark verified */
	{STORE_LC_RECORD, STORE_RECORD_AVAILABLE, STORE_RECORD_RETIRED},  /* retire */
	{STORE_LC_RECORD, STORE_RECORD_SENT, STORE_RECORD_RETIRED},
	{STORE_LC_RECORD, STORE_RECORD_VERIFIED, STORE_RECORD_RETIRED},
	/* jobs */
	{STORE_LC_JOB, STORE_JOB_RESERVED, STORE_JOB_SENT},        /* mark sent */
	{STORE_LC_JOB, STORE_JOB_SENT, STORE_JOB_VERIFIED},        /* mark verified */
	{STORE_LC_JOB, STORE_JOB_RESERVED, STORE_JOB_RELEASED},    /* release, recover, superseded */
	{STORE_LC_JOB, STORE_JOB_RESERVED, STORE_JOB_FAILED},      /* fail */
	{STORE_LC_JOB, STORE_JOB_SENT, STORE_JOB_FAILED},
	{STORE_LC_JOB, STORE_JOB_SENT, STORE_JOB_INTERRUPTED},     /* recover, superseded */
	/* batches */
	{STORE_LC_BATCH, STORE_BATCH_ACTIVE, STORE_BATCH_PAUSED},    /* pause */
	{STORE_LC_BATCH, STORE_BATCH_PAUSED, STORE_BATCH_ACTIVE},    /* resume */
	{STORE_LC_BATCH, STORE_BATCH_ACTIVE, STORE_BATCH_CANCELLED}, /* cancel */
	{STORE_LC_BATCH, STORE_BATCH_PAUSED, STORE_BATCH_CANCELLED},
	{STORE_LC_BATCH, STORE_BATCH_ACTIVE, STORE_BATCH_DONE},      /* its last device verified */
	{STORE_LC_BATCH, STORE_BATCH_PAUSED, STORE_BATCH_DONE},
	/* device HMAC keys (store_hmac_set; schema 005's trigger says the same) */
	{STORE_LC_HMAC, STORE_HMAC_NONE, STORE_HMAC_BURNING},       /* a key chosen at claim time */
	{STORE_LC_HMAC, STORE_HMAC_BURNING, STORE_HMAC_BURNING},    /* a later run, the same (sealed) key */
	{STORE_LC_HMAC, STORE_HMAC_BURNING, STORE_HMAC_BURNT},      /* the burn verified */
	{STORE_LC_HMAC, STORE_HMAC_BURNING, STORE_HMAC_REWORK},
	{STORE_LC_HMAC, STORE_HMAC_BURNING, STORE_HMAC_REFUSED},    /* nothing programmed */
	{STORE_LC_HMAC, STORE_HMAC_REFUSED, STORE_HMAC_BURNING},    /* a later run */
	{STORE_LC_HMAC, STORE_HMAC_REFUSED, STORE_HMAC_BURNT},
	{STORE_LC_HMAC, STORE_HMAC_REFUSED, STORE_HMAC_REWORK},
	{STORE_LC_HMAC, STORE_HMAC_REFUSED, STORE_HMAC_REFUSED},
	{STORE_LC_HMAC, STORE_HMAC_BURNT, STORE_HMAC_BURNT},        /* found burnt again: finished with the sealed key */
	{STORE_LC_HMAC, STORE_HMAC_BURNT, STORE_HMAC_DONE},         /* verified */
	{STORE_LC_HMAC, STORE_HMAC_BURNT, STORE_HMAC_REWORK},
	{STORE_LC_HMAC, STORE_HMAC_DONE, STORE_HMAC_DONE},          /* verified again with the sealed key */
	{STORE_LC_HMAC, STORE_HMAC_REWORK, STORE_HMAC_REWORK},
};

const char *store_state_name(enum store_lifecycle lc, int state)
{
	if ((unsigned)lc >= STORE_LC_COUNT_ || state < 0 || state >= lifecycles[lc].count)
		return "?";
	return lifecycles[lc].names[state];
}

int store_state_parse(enum store_lifecycle lc, const char *name)
{
	if ((unsigned)lc >= STORE_LC_COUNT_ || !name)
		return -1;
	for (int i = 0; i < lifecycles[lc].count; i++)
		if (lifecycles[lc].names[i] && !strcmp(lifecycles[lc].names[i], name))
			return i;
	return -1;
}

int store_state_allowed(enum store_lifecycle lc, int from, int to)
{
	for (size_t i = 0; i < sizeof(transitions) / sizeof(transitions[0]); i++)
		if (transitions[i].lc == lc && transitions[i].from == from && transitions[i].to == to)
			return 1;
	return 0;
}
