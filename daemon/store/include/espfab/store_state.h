/* The lifecycles of records, jobs and batches: one enum per lifecycle, its
 * names (the strings the schema's CHECKs, SQL and JSON use: strings only at
 * those edges) and one table of the transitions the store allows.
 *
 * To add a state: its enum value before the _COUNT_, its name in
 * store_state.c's table, and its transitions as rows of the same file's
 * transition table (and the schema's CHECK in a migration).
 */
#ifndef ESPFAB_STORE_STATE_H
#define ESPFAB_STORE_STATE_H

enum store_record_state {
	STORE_RECORD_AVAILABLE = 0,
	STORE_RECORD_RESERVED,   /* claimed by a job, nothing sent yet */
	STORE_RECORD_SENT,       /* bound to a MAC: bytes may be on the device */
	STORE_RECORD_VERIFIED,
	STORE_RECORD_RETIRED,
	STORE_RECORD_STATE_COUNT_
};

enum store_job_state {
	STORE_JOB_RESERVED = 0,
	STORE_JOB_SENT,
	STORE_JOB_VERIFIED,
	STORE_JOB_RELEASED,      /* ended before any byte was sent */
	STORE_JOB_FAILED,
	STORE_JOB_INTERRUPTED,   /* ended by a restart or a newer claim after send */
	STORE_JOB_STATE_COUNT_
};

enum store_batch_state {
	STORE_BATCH_ACTIVE = 0,
	STORE_BATCH_PAUSED,
	STORE_BATCH_DONE,
	STORE_BATCH_CANCELLED,
	STORE_BATCH_STATE_COUNT_
};

/* A device's HMAC eFuse key, per (MAC, key block) (espfab/store_hmac.h,
 * schema 005's device_hmac_keys). NONE is no row, not a state the schema
 * names: nothing was ever tried on this block. The values are part of the
 * worker messages (PIPELINE_HMAC_PRIOR, 4 bits): append only. */
enum store_hmac_state {
	STORE_HMAC_NONE = 0,
	STORE_HMAC_BURNING,      /* a key was chosen, the burn may have started */
	STORE_HMAC_BURNT,        /* the key is in its block, purpose HMAC_UP */
	STORE_HMAC_DONE,         /* the device verified with its encrypted image */
	STORE_HMAC_REWORK,       /* a key is or may be on the chip and the station cannot finish it */
	STORE_HMAC_REFUSED,      /* the burn's checks refused with nothing programmed */
	STORE_HMAC_STATE_COUNT_
};

enum store_lifecycle { STORE_LC_RECORD = 0, STORE_LC_JOB, STORE_LC_BATCH, STORE_LC_HMAC, STORE_LC_COUNT_ };

/* The state's name ("?" for none), or the state of a name (-1 for none). */
const char *store_state_name(enum store_lifecycle lc, int state);
int store_state_parse(enum store_lifecycle lc, const char *name);
/* 1 when the table allows from -> to. */
int store_state_allowed(enum store_lifecycle lc, int from, int to);

/* Typed shorthands. */
static inline const char *store_record_state_name(enum store_record_state s)
{
	return store_state_name(STORE_LC_RECORD, (int)s);
}
static inline const char *store_job_state_name(enum store_job_state s)
{
	return store_state_name(STORE_LC_JOB, (int)s);
}
static inline const char *store_batch_state_name(enum store_batch_state s)
{
	return store_state_name(STORE_LC_BATCH, (int)s);
}
static inline const char *store_hmac_state_name(enum store_hmac_state s) /* "key-burning", ...; static */
{
	return store_state_name(STORE_LC_HMAC, (int)s);
}
static inline int store_record_state_parse(const char *name)
{
	return store_state_parse(STORE_LC_RECORD, name);
}
static inline int store_job_state_parse(const char *name)
{
	return store_state_parse(STORE_LC_JOB, name);
}
static inline int store_batch_state_parse(const char *name)
{
	return store_state_parse(STORE_LC_BATCH, name);
}
static inline int store_hmac_state_parse(const char *name)
{
	return store_state_parse(STORE_LC_HMAC, name);
}

#endif
