/* Reading a table of either kind by its content (PartitionTable.from_file). */
#include "part_priv.h"

int part_table_parse(const uint8_t *buf, size_t len, const struct part_opts *o, struct part_table **out,
		     bool *is_binary, struct part_err *err)
{
	/* from_file(): binary exactly when the first two bytes are the entry magic */
	bool bin = len >= 2 && buf[0] == PART_MAGIC_0 && buf[1] == PART_MAGIC_1;

	if (is_binary)
		*is_binary = bin;
	return bin ? part_bin_parse(buf, len, o, out, err) : part_csv_parse(buf, len, o, out, err);
}
