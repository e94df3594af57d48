/* Reading a table of either kind by its content (PartitionTable.from_file). */
#include "part_priv.h"

int part_table_parse(const uint8_t *buf, size_t len, const struct part_opts *o, struct part_table **out,
		     bool *is_binary, struct part_err *err)
{
	/* from_file(): binary exactly when the first two bytes are the entry magic */
	bool bin = len >= 2 && buf[0] == PART_MAGIC_0 && buf[1] == PART_MAGIC_1;

	int rc;

	if (is_binary)
		*is_binary = bin;
	if (bin)
		return part_bin_parse(buf, len, o, out, err);
	rc = part_csv_parse(buf, len, o, out, err);
	/* A binary table with no entries starts with its MD5 row; the reference
	 * then reads it as text and fails on the first byte. Say what it is. */
	if (rc == PART_ESYNTAX && len >= 2 && buf[0] == PART_MD5_MAGIC && buf[1] == PART_MD5_MAGIC)
		part_err_set(err, PART_ESYNTAX, 0, 0,
			     "a binary partition table with no entries (it starts with the MD5 entry); "
			     "only tables whose first entry is a partition (AA 50) can be read");
	return rc;
}
