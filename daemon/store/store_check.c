/* The invariant, checked over the whole database (tests, crash tests and
 * `espfab records check`). Each query returns the first offending record. */
#include <string.h>

#include "store_backend.h"
#include "store_int.h"

static const struct {
	const char *what;
	const char *sql;
} rules[] = {
	{"an available record has a MAC, a job or a binding",
	 "SELECT record_id FROM records WHERE state = 'available' AND (mac IS NOT NULL OR bound = 1 OR job_id IS NOT NULL)"},
	{"a reserved record has no open reservation of its MAC",
	 "SELECT r.record_id FROM records r WHERE r.state = 'reserved' AND NOT EXISTS (SELECT 1 FROM jobs j "
	 "WHERE j.id = r.job_id AND j.state = 'reserved' AND j.mac = r.mac AND j.record_id = r.id)"},
	{"a sent or verified record is not bound to a MAC",
	 "SELECT record_id FROM records WHERE state IN ('sent', 'verified') AND (bound = 0 OR mac IS NULL)"},
	{"a record reached a device other than the one it is bound to",
	 "SELECT r.record_id FROM records r JOIN jobs j ON j.record_id = r.id WHERE j.state IN "
	 "('sent', 'verified', 'failed', 'interrupted') AND (r.bound = 0 OR j.mac <> r.mac)"},
	{"a record has two open jobs",
	 "SELECT r.record_id FROM records r JOIN jobs j ON j.record_id = r.id WHERE j.state IN ('reserved', 'sent') "
	 "GROUP BY r.id HAVING count(*) > 1"},
	{"a reserved job's record is not held for its MAC",
	 "SELECT r.record_id FROM jobs j JOIN records r ON r.id = j.record_id WHERE j.state = 'reserved' AND "
	 "(r.mac IS NOT j.mac OR r.state NOT IN ('reserved', 'sent', 'verified', 'retired'))"},
	{"a verified record has no verified job",
	 "SELECT r.record_id FROM records r WHERE r.state = 'verified' AND NOT EXISTS (SELECT 1 FROM jobs j "
	 "WHERE j.record_id = r.id AND j.state = 'verified')"},
	{"a record has no values",
	 "SELECT r.record_id FROM records r WHERE NOT EXISTS (SELECT 1 FROM record_values v WHERE v.record_id = r.id)"},
	{"a batch counts more verified devices than it has verified jobs",
	 "SELECT CAST(b.id AS TEXT) FROM batches b WHERE b.n_verified <> (SELECT count(*) FROM jobs j "
	 "WHERE j.batch_id = b.id AND j.state = 'verified')"},
};

int store_check(struct store *s, struct store_err *err)
{
	STORE_VIA_BACKEND(s, check, (s, err));
	for (size_t i = 0; i < sizeof(rules) / sizeof(rules[0]); i++) {
		sqlite3_stmt *st = NULL;
		int rc = store_prep(s, &st, rules[i].sql, err);
		if (rc)
			return rc;
		rc = sqlite3_step(st);
		if (rc == SQLITE_ROW) {
			store_fail_err(err, STORE_ESTATE, "invariant broken: %s (record '%s')", rules[i].what,
				       sqlite3_column_text(st, 0));
			store_unprep(s, st);
			return STORE_ESTATE;
		}
		store_unprep(s, st);
		if (rc != SQLITE_DONE)
			return store_db_err(s, err, "check");
	}
	return store_lease_check(s, err);
}
