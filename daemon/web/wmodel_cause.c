/* Failure reasons in the operator's words. See wmodel.h.
 *
 * The daemon's reason is one line that names its step first (pipeline.c:
 * "write: ...", "verify: ...", "claim: ...", "firmware ...", "reading the
 * partition table: ..."); the ROM's own words follow. The step says what the
 * operator can do about it: a board that stopped answering is reseated, one
 * whose read-back differs is set aside, a missing record is a technician's
 * job. The device's reason is still shown verbatim under the advice.
 */
#include <string.h>
#include <strings.h>

#include "wmodel.h"

static int has(const char *s, const char *needle)
{
	return strcasestr(s, needle) != NULL;
}

static int starts(const char *s, const char *prefix)
{
	return strncasecmp(s, prefix, strlen(prefix)) == 0;
}

enum wmodel_cause wmodel_classify(const char *e)
{
	if (!e || !*e)
		return WMODEL_CAUSE_OTHER;
	if (has(e, "shutting down") || has(e, "stopped"))
		return WMODEL_CAUSE_STATION;
	/* Silence in any step is the contact, whatever the step was: the
	 * board answered before (it was identified), then stopped. */
	if (has(e, "no reply") || has(e, "deadline") || has(e, "timed out") || has(e, "timeout") ||
	    has(e, "no answer") || has(e, "lost sync") || has(e, "silent") || has(e, "connection closed"))
		return WMODEL_CAUSE_CONTACT;
	if (starts(e, "claim:") || starts(e, "mark sent:") || starts(e, "store:") || starts(e, "image of"))
		return WMODEL_CAUSE_RECORDS;
	if (starts(e, "verify"))
		return WMODEL_CAUSE_VERIFY;
	if (starts(e, "firmware"))
		return WMODEL_CAUSE_FIRMWARE;
	if (has(e, "partition table"))
		return WMODEL_CAUSE_TABLE;
	if (starts(e, "write:"))
		return WMODEL_CAUSE_CONTACT;
	return WMODEL_CAUSE_OTHER;
}

const char *wmodel_cause_name(enum wmodel_cause c)
{
	switch (c) {
	case WMODEL_CAUSE_CONTACT:
		return "contact";
	case WMODEL_CAUSE_VERIFY:
		return "verify";
	case WMODEL_CAUSE_TABLE:
		return "table";
	case WMODEL_CAUSE_FIRMWARE:
		return "firmware";
	case WMODEL_CAUSE_RECORDS:
		return "records";
	case WMODEL_CAUSE_STATION:
		return "station";
	case WMODEL_CAUSE_OTHER:
	case WMODEL_CAUSE_COUNT_:
		break;
	}
	return "other";
}

const char *wmodel_cause_label(enum wmodel_cause c)
{
	switch (c) {
	case WMODEL_CAUSE_CONTACT:
		return "Lost contact with the board";
	case WMODEL_CAUSE_VERIFY:
		return "Read-back did not match";
	case WMODEL_CAUSE_TABLE:
		return "Wrong or unreadable partition table";
	case WMODEL_CAUSE_FIRMWARE:
		return "Firmware write failed";
	case WMODEL_CAUSE_RECORDS:
		return "No record for this board";
	case WMODEL_CAUSE_STATION:
		return "Station was stopping";
	case WMODEL_CAUSE_OTHER:
	case WMODEL_CAUSE_COUNT_:
		break;
	}
	return "Other failure";
}

const char *wmodel_cause_action(enum wmodel_cause c)
{
	switch (c) {
	case WMODEL_CAUSE_CONTACT:
		return "Reseat the board and retry. Fails twice: replace it.";
	case WMODEL_CAUSE_VERIFY:
		return "Replace the board; set it aside for repair.";
	case WMODEL_CAUSE_TABLE:
		return "Set the board aside (wrong firmware). Call a technician.";
	case WMODEL_CAUSE_FIRMWARE:
		return "Retry once. Fails again: replace the board.";
	case WMODEL_CAUSE_RECORDS:
		return "Remove the board. More boards need a new batch: call a technician.";
	case WMODEL_CAUSE_STATION:
		return "Wait for the station, then reseat the board.";
	case WMODEL_CAUSE_OTHER:
	case WMODEL_CAUSE_COUNT_:
		break;
	}
	return "Retry once. Fails again: call a technician.";
}
