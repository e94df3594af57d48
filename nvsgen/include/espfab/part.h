/* Partition tables: a native port of ESP-IDF's gen_esp32part.py 1.5
 * (esp-idf v6.0.2), plus the device-readback path the station uses to find
 * where a device's NVS partition lives.
 *
 * Pure: no files, no globals, no printing. Warnings the reference prints go
 * to the caller's callback (struct part_opts.warn); errors come back in a
 * struct part_err. Functions return 0 or a negative enum part_errcode.
 * Everything here is reentrant; tables and name registries are plain heap
 * objects owned by whoever created them.
 *
 * Where espfab deliberately differs from the reference (see
 * ../shared/golden/policy.tsv and the README section "part"):
 *   - a label longer than 16 bytes is refused (the reference cuts it);
 *   - values the reference only rejects with a Python traceback (struct
 *     overflow, bad UTF-8, a bad --extra-partition-subtypes entry) are clean
 *     errors;
 *   - the bad-MD5 message shows plain hex, not a Python bytes repr.
 */
#ifndef ESPFAB_PART_H
#define ESPFAB_PART_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define PART_TABLE_OFFSET_DEFAULT 0x8000u /* CONFIG_PARTITION_TABLE_OFFSET default */
#define PART_TABLE_SECTOR 0x1000u         /* the table owns a whole flash sector */
#define PART_TABLE_MAX_LEN 0xC00u         /* bytes of entries (+MD5 +end); the rest is for a signature */
#define PART_ENTRY_LEN 32u
#define PART_NAME_MAX 16u                 /* label bytes in an entry; a 16-byte label has no NUL */

/* Built-in types (the reference's TYPES); 0x40-0xFE are user types. */
#define PART_TYPE_APP 0x00u
#define PART_TYPE_DATA 0x01u
#define PART_TYPE_BOOTLOADER 0x02u
#define PART_TYPE_PARTITION_TABLE 0x03u

#define PART_SUBTYPE_DATA_OTA 0x00u
#define PART_SUBTYPE_DATA_NVS 0x02u
#define PART_SUBTYPE_DATA_COREDUMP 0x03u
#define PART_SUBTYPE_DATA_TEE_OTA 0x90u

#define PART_FLAG_ENCRYPTED 0x1u /* bit 0 */
#define PART_FLAG_READONLY 0x2u  /* bit 1 */

enum part_errcode {
	PART_OK = 0,
	PART_EINVAL = -1,    /* bad argument or option (offset, extra subtype spec, ...) */
	PART_ENOMEM = -2,
	PART_ESYNTAX = -3,   /* a CSV line the reference refuses (err.line says which) */
	PART_EBINARY = -4,   /* malformed binary table: length, magic, label bytes */
	PART_EMD5 = -5,      /* the MD5 entry does not match the entries before it */
	PART_ENOEND = -6,    /* no 0xFF end-of-table marker */
	PART_EVERIFY = -7,   /* a validation rule of the reference failed */
	PART_ETOOBIG = -8,   /* the table does not fit in 0xC00 bytes */
	PART_EFLASH = -9,    /* the partitions do not fit in the given flash size */
	PART_ENOTFOUND = -10,/* no partition matches the query */
	PART_EEMPTY = -11,   /* read-back bytes are erased flash: no table at that offset */
	PART_ENOMD5 = -12,   /* PART_RB_REQUIRE_MD5 given and the table has no MD5 entry */
};

/* Details of a failure, filled by the callee; msg is one line without a
 * newline, worded as the reference's message wherever it has one. */
struct part_err {
	int code;      /* an enum part_errcode */
	unsigned line; /* 1-based CSV line the error is about, 0 if none */
	long pos;      /* byte position in a binary table the error is about, -1 if none */
	char msg[256];
};

enum part_secure {
	PART_SECURE_NONE = 0,
	PART_SECURE_V1,   /* --secure v1: app sizes aligned to 64K */
	PART_SECURE_V2,   /* --secure v2: app sizes aligned to 4K */
};

struct part_names; /* keyword registry: built-in names + --extra-partition-subtypes */

struct part_opts {
	uint32_t table_offset;          /* --offset (default 0x8000) */
	bool md5;                       /* write / check the MD5 entry (false: --disable-md5sum) */
	enum part_secure secure;        /* --secure */
	bool has_primary_bootloader;    /* --primary-bootloader-offset given */
	uint32_t primary_bootloader_offset;
	bool has_recovery_bootloader;   /* --recovery-bootloader-offset given */
	uint32_t recovery_bootloader_offset;
	const struct part_names *names; /* NULL: the built-in keywords only */
	/* os.environ lookup for $VAR expansion: the value, or NULL for an unset
	 * variable. NULL hook: every $VAR is unset. */
	const char *(*getenv)(void *user, const char *name);
	void *getenv_user;
	/* A warning the reference prints on stderr ("WARNING: ..." lines): text is
	 * its wording without the "WARNING: " prefix, line/pos as in struct
	 * part_err, valid only during the call. NULL hook: warnings are dropped. */
	void (*warn)(void *user, unsigned line, long pos, const char *text);
	void *warn_user;
};

/* Defaults of the reference's command line: offset 0x8000, MD5 on, no secure
 * boot, no bootloader offsets, built-in names, no environment, no warnings. */
void part_opts_init(struct part_opts *o);
/* The reference's check on --primary-bootloader-offset (it must lie below the
 * table). Called by the parsers too; exposed for early CLI checks. */
int part_opts_check(const struct part_opts *o, struct part_err *err);

struct part_entry {
	char name[PART_NAME_MAX + 1]; /* label, NUL-terminated, at most 16 bytes */
	uint8_t type;
	uint8_t subtype;
	uint32_t offset;
	uint32_t size;
	uint32_t flags;    /* PART_FLAG_* bits; unknown bits read from a binary are dropped, as the reference does */
	unsigned line;     /* CSV line it came from, 0 for a binary table */
	long pos;          /* byte position of its entry in a binary table, -1 for CSV */
};

struct part_table {
	size_t count;
	struct part_entry *entries; /* count entries, in table order */
	bool has_md5;               /* a binary input carried a (matching) MD5 entry */
};

/* Free a table from any part_* parser; NULL is fine. */
void part_table_free(struct part_table *t);

/* --- Keyword registry (part_names.c) --- */

/* A registry with the reference's built-in type and subtype keywords.
 * Returns NULL on allocation failure; free with part_names_free. */
struct part_names *part_names_new(void);
void part_names_free(struct part_names *n);
/* One --extra-partition-subtypes word, "TYPE,NAME,VALUE" (TYPE one of app,
 * data, bootloader, partition_table; VALUE parsed as hex like the reference's
 * int(x, 16)). A value already used by that type is refused; an existing
 * NAME gets the new value and keeps its place, as in the reference's dict. */
int part_names_add_extra(struct part_names *n, const char *spec, struct part_err *err);
/* Keyword for a type or subtype value, or NULL (n NULL = built-ins). The
 * first keyword in the reference's dict order wins. Returned strings live as
 * long as n (or forever for the built-ins). */
const char *part_type_name(const struct part_names *n, unsigned type);
const char *part_subtype_name(const struct part_names *n, unsigned type, unsigned subtype);
/* Value of a keyword, or -1 (exact, case-sensitive match). */
int part_type_value(const struct part_names *n, const char *name);
int part_subtype_value(const struct part_names *n, unsigned type, const char *name);

/* --- Parsing (part_csv.c, part_bin.c, part_table.c) --- */

/* A CSV table: len bytes of file contents, any encoding the reference
 * accepts (UTF-8, a UTF-8/16/32 BOM). Offsets are filled in and negative
 * sizes resolved exactly as the reference does. *out is set to NULL on entry
 * and owned by the caller on success. */
int part_csv_parse(const uint8_t *text, size_t len, const struct part_opts *o, struct part_table **out,
		   struct part_err *err);

/* A binary table with the reference's semantics: 32-byte entries up to a
 * 32-byte 0xFF end marker (bytes after it are ignored), an MD5 entry
 * (EB EB FF*14 + MD5 of the entries before it) checked when o->md5. */
int part_bin_parse(const uint8_t *buf, size_t len, const struct part_opts *o, struct part_table **out,
		   struct part_err *err);

/* Either, by content, as the reference's from_file: AA 50 at the start means
 * binary. *is_binary (may be NULL) tells which parser ran. */
int part_table_parse(const uint8_t *buf, size_t len, const struct part_opts *o, struct part_table **out,
		     bool *is_binary, struct part_err *err);

/* --- Validation (part_verify.c) --- */

/* The reference's verify(): per-partition alignment, bootloader and nvs /
 * otadata rules (warnings through o->warn), unique names, offsets above the
 * table sector and no overlaps, at most one otadata / TEE otadata, 8K each. */
int part_table_verify(const struct part_table *t, const struct part_opts *o, struct part_err *err);
/* The reference's flash_size(): the end of the partition with the highest
 * offset (the first such in table order); 0 for an empty table. */
uint64_t part_table_flash_end(const struct part_table *t);
/* --flash-size: PART_EFLASH when part_table_flash_end() > flash_bytes. */
int part_table_check_flash_size(const struct part_table *t, uint64_t flash_bytes, struct part_err *err);

/* --- Output (part_bin.c, part_csv.c) --- */

/* The binary table as the reference writes it: entries, MD5 entry if o->md5,
 * 0xFF to PART_TABLE_MAX_LEN bytes. out must hold PART_TABLE_MAX_LEN bytes. */
int part_bin_write(const struct part_table *t, const struct part_opts *o, uint8_t *out, struct part_err *err);
/* The CSV text the reference writes for a table (keywords, K/M sizes).
 * *out is a NUL-terminated heap string the caller frees with free(). */
int part_csv_write(const struct part_table *t, const struct part_opts *o, char **out, struct part_err *err);
/* One row of that text without newline, into buf (snprintf-style: cut to
 * cap, returns the length the whole row needs; 128 bytes always do with the
 * built-in keywords). Used in messages. */
size_t part_csv_row(const struct part_entry *e, const struct part_names *n, char *buf, size_t cap);

/* --- Lookup and the device-readback path (part_find.c) --- */

/* First entry with that label (exact bytes), or NULL. */
const struct part_entry *part_find_label(const struct part_table *t, const char *label);
/* First entry of that type and subtype in table order, or NULL; subtype < 0
 * matches any subtype. */
const struct part_entry *part_find_type(const struct part_table *t, unsigned type, int subtype);

#define PART_RB_REQUIRE_MD5 0x1u /* refuse a table without an MD5 entry */
#define PART_RB_NO_VERIFY 0x2u   /* skip part_table_verify() (e.g. a secondary table placed oddly) */

/* The bytes read back from flash at the table's offset (o->table_offset:
 * 0x8000, 0x9000, ESP-AT's secondary table at 0x20000, ...). Any length from
 * 32 bytes: only the first PART_TABLE_MAX_LEN are entries, so a 0xC00 or
 * 0x1000 read with its trailing 0xFF (or signature) area is fine. The MD5
 * entry is always checked when present (o->md5 is ignored here, as the
 * bootloader does); erased flash gives PART_EEMPTY; then the reference's
 * verify runs unless PART_RB_NO_VERIFY. *out owned by the caller. On error
 * err->pos counts from buf[0] (add the table offset for a flash address). */
int part_readback_parse(const uint8_t *buf, size_t len, const struct part_opts *o, unsigned rb_flags,
			struct part_table **out, struct part_err *err);

/* What part_locate looks for: a label, else type + subtype. */
struct part_query {
	const char *label; /* non-NULL: match this label, ignore type/subtype */
	unsigned type;
	int subtype;       /* < 0: any subtype */
};
/* A query for the first data/nvs partition (the default). */
void part_query_nvs(struct part_query *q);

/* One call for the daemon: parse read-back bytes (as part_readback_parse
 * with default options at table_offset, warnings dropped), find q (NULL =
 * first data/nvs) and copy the entry to *out (offset, size, flags, label).
 * Nothing to free. */
int part_locate(const uint8_t *buf, size_t len, uint32_t table_offset, unsigned rb_flags,
		const struct part_query *q, struct part_entry *out, struct part_err *err);

/* Human name of an error code ("bad MD5", ...); never NULL. */
const char *part_strerror(int code);

#endif
