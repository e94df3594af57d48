/* Certificate descriptions for the CLI. See x509_info.h. */
#include "x509_info.h"

#include <string.h>
#include <time.h>

#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/evp.h>
#include <openssl/x509.h>

static json_t *name_text(const X509_NAME *n)
{
	BIO *b = BIO_new(BIO_s_mem());
	char *p = NULL;
	long len;
	json_t *r = NULL;

	if (!b)
		return NULL;
	/* RFC 2253 order and escaping, UTF-8 as is. */
	if (X509_NAME_print_ex(b, n, 0, XN_FLAG_RFC2253 & ~ASN1_STRFLGS_ESC_MSB) >= 0) {
		len = BIO_get_mem_data(b, &p);
		r = json_stringn(p ? p : "", len > 0 ? (size_t)len : 0);
	}
	BIO_free(b);
	return r;
}

static json_t *time_text(const ASN1_TIME *t)
{
	struct tm tm;
	char buf[32];

	if (!t || !ASN1_TIME_to_tm(t, &tm))
		return json_null();
	strftime(buf, sizeof(buf), "%Y-%m-%dT%H:%M:%SZ", &tm);
	return json_string(buf);
}

void x509_info_key(const EVP_PKEY *key, char *buf, size_t cap)
{
	int id = key ? EVP_PKEY_get_base_id(key) : 0;

	if (id == EVP_PKEY_EC) {
		char group[64] = "";
		size_t glen = 0;
		if (!EVP_PKEY_get_utf8_string_param(key, "group", group, sizeof(group), &glen))
			strcpy(group, "?");
		/* prime256v1 is what the device and its docs call P-256 */
		snprintf(buf, cap, "EC %s", !strcmp(group, "prime256v1") ? "P-256" : group);
	} else if (id == EVP_PKEY_RSA) {
		snprintf(buf, cap, "RSA %d", EVP_PKEY_get_bits(key));
	} else if (id) {
		snprintf(buf, cap, "%s", OBJ_nid2sn(id));
	} else {
		snprintf(buf, cap, "unknown");
	}
}

json_t *x509_info_cert(X509 *cert)
{
	json_t *o = json_object();
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int mdlen = 0;
	char hex[2 * EVP_MAX_MD_SIZE + 1], keydesc[80];
	BIGNUM *bn = NULL;
	char *serial = NULL;

	if (!o)
		return NULL;
	json_object_set_new(o, "subject", name_text(X509_get_subject_name(cert)));
	json_object_set_new(o, "issuer", name_text(X509_get_issuer_name(cert)));
	bn = ASN1_INTEGER_to_BN(X509_get0_serialNumber(cert), NULL);
	serial = bn ? BN_bn2hex(bn) : NULL;
	json_object_set_new(o, "serial", serial ? json_string(serial) : json_null());
	OPENSSL_free(serial);
	BN_free(bn);
	json_object_set_new(o, "not_before", time_text(X509_get0_notBefore(cert)));
	json_object_set_new(o, "not_after", time_text(X509_get0_notAfter(cert)));
	if (X509_digest(cert, EVP_sha256(), md, &mdlen)) {
		for (unsigned i = 0; i < mdlen; i++)
			snprintf(hex + 2 * i, 3, "%02x", md[i]);
		json_object_set_new(o, "sha256", json_string(hex));
	}
	x509_info_key(X509_get0_pubkey(cert), keydesc, sizeof(keydesc));
	json_object_set_new(o, "key", json_string(keydesc));
	return o;
}

void x509_info_print(FILE *f, const json_t *info, const char *indent)
{
	static const char *const fields[] = {"subject", "issuer", "serial", "not_before", "not_after", "sha256", "key"};
	for (size_t i = 0; i < sizeof(fields) / sizeof(fields[0]); i++) {
		const json_t *v = json_object_get(info, fields[i]);
		if (json_is_string(v))
			fprintf(f, "%s%-10s %s\n", indent, fields[i], json_string_value(v));
	}
}
