/* esp_secure_cert partition images (TLV format), both directions.
 *
 * Byte-exact to esp_secure_cert_mgr's configure_esp_secure_cert.py
 * (tools/esp_secure_cert/tlv_format_construct.py) for the "cust_flash_tlv"
 * type, and read the way the device's esp_secure_cert_tlv_read.c reads it.
 *
 * One TLV on flash:
 *   magic u32 LE 0xBA5EBA11 | flags u8 | reserved[3] = 0 | type u8 | subtype u8 |
 *   length u16 LE | data[length] | zero padding to a multiple of 16 data bytes |
 *   crc u32 LE = zlib.crc32(header + data + padding, 0xFFFFFFFF)
 * TLVs follow each other from offset 0; the first position without the magic
 * ends the chain (erased flash). The reference's image is only the bytes of
 * the chain (not padded to the partition), at most 0x2000 bytes, and ends
 * with an integrity TLV (type 9, the SHA-256 of every byte before it).
 *
 * Pure: no files, no globals, no logging; SHA-256 and CRC are computed with
 * OpenSSL and zlib. The data of a private-key TLV is a secret: this module
 * never prints it, and error messages name TLVs by type and offset only.
 * Certificate/key canonicalisation (what the reference does to its input
 * files) lives in espfab/seccert_pem.h.
 */
#ifndef ESPFAB_SECCERT_H
#define ESPFAB_SECCERT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define SECCERT_MAGIC 0xBA5EBA11u
#define SECCERT_HEADER_LEN 12u
#define SECCERT_FOOTER_LEN 4u
#define SECCERT_ALIGN 16u /* flash-encryption write unit; data is padded to it */
#define SECCERT_MAX_IMAGE 0x2000u /* the reference refuses to build more */
#define SECCERT_PART_TYPE 0x3F    /* partition table type of esp_secure_cert */
#define SECCERT_SHA256_LEN 32u

/* TLV types (esp_secure_cert_tlv_config.h). */
enum seccert_type {
	SECCERT_CA_CERT = 0,
	SECCERT_DEV_CERT = 1,
	SECCERT_PRIV_KEY = 2,
	SECCERT_DS_DATA = 3,
	SECCERT_DS_CONTEXT = 4,
	SECCERT_ECDSA_KEY_SALT = 5,
	SECCERT_SEC_CFG = 6,
	SECCERT_TEE_SEC_STORAGE_KEY = 7,
	SECCERT_SIGNATURE_BLOCK = 8,
	SECCERT_INTEGRITY = 9,
	SECCERT_TLV_END = 50,
	SECCERT_USER_DATA_1 = 51,
	SECCERT_USER_DATA_5 = 55,
};

/* Private-key TLV flag bits (the reference's _get_flag_byte). */
#define SECCERT_FLAG_HMAC_ENCRYPTED 0x80u
#define SECCERT_FLAG_HMAC_DERIVED_ECDSA 0x40u
#define SECCERT_FLAG_ECDSA_PERIPHERAL 0x08u

enum seccert_error {
	SECCERT_OK = 0,
	SECCERT_EINVAL = -1,  /* bad argument (entry too long, too many entries) */
	SECCERT_ENOMEM = -2,
	SECCERT_ETOOBIG = -3, /* the image would exceed the caller's limit */
	SECCERT_EFORMAT = -4, /* bytes that are not an esp_secure_cert image */
	SECCERT_ECRYPTO = -5, /* OpenSSL failed or rejected a certificate or key */
};

struct seccert_err {
	int code;        /* an enum seccert_error */
	uint32_t offset; /* byte offset in the image when known, else 0 */
	char msg[256];   /* one line; never secret bytes */
};

/* ---- building ------------------------------------------------------------- */

/* One TLV to write. data is borrowed for the call. */
struct seccert_entry {
	uint8_t type;
	uint8_t subtype;
	uint8_t flags;
	const uint8_t *data;
	size_t len; /* at most 65535 (the length field is u16) */
};

/* Bytes one TLV of data length len takes on flash. */
size_t seccert_tlv_size(size_t len);

/* Write the entries in order into buf, then, if integrity, the integrity TLV
 * over everything before it (as the reference's default run does). cap is the
 * most the image may take (SECCERT_MAX_IMAGE to refuse what the reference
 * refuses). *out_len is the image length; nothing is written to *out_len on
 * error and buf's contents are then undefined. */
int seccert_build(const struct seccert_entry *entries, size_t n, bool integrity, uint8_t *buf, size_t cap,
		  size_t *out_len, struct seccert_err *err);

/* ---- reading -------------------------------------------------------------- */

enum seccert_problem_kind {
	SECCERT_P_CRC,       /* a TLV's CRC does not match its bytes */
	SECCERT_P_RESERVED,  /* reserved header bytes are not zero */
	SECCERT_P_INTEGRITY, /* an integrity TLV does not match the bytes before it */
	SECCERT_P_DUPLICATE, /* the same type and subtype appear twice */
};

struct seccert_problem {
	enum seccert_problem_kind kind;
	uint32_t offset; /* of the TLV concerned */
	char msg[160];
};

struct seccert_tlv {
	uint32_t offset; /* of the header in the image */
	uint8_t flags, type, subtype;
	uint8_t reserved[3];
	uint16_t length;
	const uint8_t *data; /* length bytes, inside the result's copy of the image */
	uint32_t crc_stored, crc_computed;
	bool crc_ok;
};

struct seccert_image {
	uint8_t *bytes; /* owned copy of the image */
	size_t len;     /* bytes given */
	size_t used;    /* end of the TLV chain */
	struct seccert_tlv *tlvs;
	size_t tlv_count;
	struct seccert_problem *problems;
	size_t problem_count;
};

/* Walk an image (a built .bin or a whole partition read from flash, erased
 * tail included) the way the device does. CRC, reserved-byte, duplicate and
 * integrity findings are problems in the result, not failures; only bytes
 * that cannot be walked are rejected (SECCERT_EFORMAT): no TLV magic at
 * offset 0, or a TLV whose length runs past the end. On success *out is
 * owned by the caller (seccert_image_free). */
int seccert_parse(const uint8_t *img, size_t len, struct seccert_image **out, struct seccert_err *err);
void seccert_image_free(struct seccert_image *im); /* NULL is fine; wipes the copy */

/* First TLV of that type and subtype, or NULL. */
const struct seccert_tlv *seccert_find(const struct seccert_image *im, uint8_t type, uint8_t subtype);

/* "ca_cert", "dev_cert", "priv_key", ... or "user_data_N"; NULL for a type
 * the reference does not name. */
const char *seccert_type_name(uint8_t type);

#endif
