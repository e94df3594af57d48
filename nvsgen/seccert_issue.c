/* Per-device keys and certificates. See espfab/seccert_issue.h. */
#include "espfab/err.h"
#include "espfab/seccert_issue.h"

#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>
#include <openssl/bn.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "espfab/seccert_pem.h"

static void set_err(struct seccert_err *err, int code, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

static void set_err(struct seccert_err *err, int code, const char *fmt, ...)
{
	va_list ap;
	if (!err)
		return;
	err->code = code;
	err->offset = 0;
	va_start(ap, fmt);
	err_vformat(err->msg, sizeof(err->msg), fmt, ap);
	va_end(ap);
}

/* ---- profile --------------------------------------------------------------- */

static int copy_str(json_t *v, const char *what, char *dst, size_t cap, struct seccert_err *err)
{
	const char *s = json_string_value(v);
	if (!s || !*s || strlen(s) >= cap) {
		set_err(err, SECCERT_EINVAL, "identity profile: \"%s\" must be a non-empty string under %zu bytes", what,
			cap);
		return SECCERT_EINVAL;
	}
	snprintf(dst, cap, "%s", s);
	return 0;
}

/* "subject": [["ATTR", "template"], ...]; *has_mac is set when a template
 * names the device's MAC (what makes each certificate unique). */
static int parse_subject(json_t *v, struct seccert_profile *p, bool *has_mac, struct seccert_err *err)
{
	size_t i;
	json_t *rdn;
	if (!json_is_array(v) || !json_array_size(v) || json_array_size(v) > SECCERT_ISSUE_MAX_RDN) {
		set_err(err, SECCERT_EINVAL,
			"identity profile: \"subject\" is a list of 1 to %d [\"ATTR\", \"template\"] pairs",
			SECCERT_ISSUE_MAX_RDN);
		return SECCERT_EINVAL;
	}
	json_array_foreach(v, i, rdn)
	{
		struct seccert_rdn *r = &p->subject[i];
		if (!json_is_array(rdn) || json_array_size(rdn) != 2 ||
		    copy_str(json_array_get(rdn, 0), "subject attribute", r->attr, sizeof(r->attr), err) ||
		    copy_str(json_array_get(rdn, 1), "subject template", r->tmpl, sizeof(r->tmpl), err)) {
			set_err(err, SECCERT_EINVAL,
				"identity profile: subject entry %zu is not an [\"ATTR\", \"template\"] pair "
				"of short strings",
				i + 1);
			return SECCERT_EINVAL;
		}
		if (OBJ_txt2nid(r->attr) == NID_undef) {
			set_err(err, SECCERT_EINVAL, "identity profile: unknown subject attribute \"%s\"",
				r->attr);
			return SECCERT_EINVAL;
		}
		*has_mac = *has_mac || strstr(r->tmpl, "{mac}") || strstr(r->tmpl, "{mac_hex}");
		p->n_subject++;
	}
	return 0;
}

int seccert_profile_parse(const char *text, size_t len, struct seccert_profile *p, struct seccert_err *err)
{
	json_error_t jerr;
	json_t *o = json_loadb(text, len, JSON_REJECT_DUPLICATES, &jerr), *v;
	const char *k;
	bool has_mac = false;
	int rc = SECCERT_EINVAL;

	memset(p, 0, sizeof(*p));
	p->key_type = SECCERT_KEY_EC_P256;
	p->validity_days = 7300;
	p->include_ca = true;
	snprintf(p->partition, sizeof(p->partition), "esp_secure_cert");
	if (!o) {
		set_err(err, SECCERT_EINVAL, "identity profile: line %d: %s", jerr.line, jerr.text);
		return SECCERT_EINVAL;
	}
	if (!json_is_object(o)) {
		set_err(err, SECCERT_EINVAL, "identity profile: not a JSON object");
		goto out;
	}
	json_object_foreach(o, k, v)
	{
		if (!strcmp(k, "key")) {
			const char *s = json_string_value(v);
			if (s && !strcmp(s, "ec-p256"))
				p->key_type = SECCERT_KEY_EC_P256;
			else if (s && !strcmp(s, "rsa-2048"))
				p->key_type = SECCERT_KEY_RSA_2048;
			else {
				set_err(err, SECCERT_EINVAL, "identity profile: \"key\" is \"ec-p256\" or \"rsa-2048\"");
				goto out;
			}
		} else if (!strcmp(k, "subject")) {
			if (parse_subject(v, p, &has_mac, err))
				goto out;
		} else if (!strcmp(k, "validity_days")) {
			json_int_t d = json_integer_value(v);
			if (!json_is_integer(v) || d < 1 || d > 36500) {
				set_err(err, SECCERT_EINVAL, "identity profile: \"validity_days\" is 1 to 36500");
				goto out;
			}
			p->validity_days = (unsigned)d;
		} else if (!strcmp(k, "include_ca") || !strcmp(k, "keep_keys")) {
			if (!json_is_boolean(v)) {
				set_err(err, SECCERT_EINVAL, "identity profile: \"%s\" is true or false", k);
				goto out;
			}
			*(!strcmp(k, "include_ca") ? &p->include_ca : &p->keep_keys) = json_is_true(v);
		} else if (!strcmp(k, "partition")) {
			if (copy_str(v, k, p->partition, sizeof(p->partition), err))
				goto out;
		} else if (!strcmp(k, "ca_cert")) {
			if (copy_str(v, k, p->ca_cert, sizeof(p->ca_cert), err))
				goto out;
		} else if (!strcmp(k, "ca_key")) {
			if (copy_str(v, k, p->ca_key, sizeof(p->ca_key), err))
				goto out;
		} else {
			set_err(err, SECCERT_EINVAL, "identity profile: unknown member \"%s\"", k);
			goto out;
		}
	}
	if (!p->n_subject) {
		set_err(err, SECCERT_EINVAL, "identity profile: \"subject\" is missing");
		goto out;
	}
	if (!has_mac) {
		set_err(err, SECCERT_EINVAL, "identity profile: the subject must contain {mac} or {mac_hex}");
		goto out;
	}
	if (!p->ca_cert[0] || !p->ca_key[0]) {
		set_err(err, SECCERT_EINVAL, "identity profile: \"ca_cert\" and \"ca_key\" are required");
		goto out;
	}
	rc = 0;
out:
	json_decref(o);
	return rc;
}

int seccert_profile_json(const struct seccert_profile *p, char **out, struct seccert_err *err)
{
	json_t *o = json_object(), *subj = json_array();
	for (size_t i = 0; i < p->n_subject; i++)
		json_array_append_new(subj, json_pack("[s,s]", p->subject[i].attr, p->subject[i].tmpl));
	json_object_set_new(o, "key", json_string(p->key_type == SECCERT_KEY_RSA_2048 ? "rsa-2048" : "ec-p256"));
	json_object_set_new(o, "subject", subj);
	json_object_set_new(o, "validity_days", json_integer(p->validity_days));
	json_object_set_new(o, "include_ca", json_boolean(p->include_ca));
	json_object_set_new(o, "keep_keys", json_boolean(p->keep_keys));
	json_object_set_new(o, "partition", json_string(p->partition));
	json_object_set_new(o, "ca_cert", json_string(p->ca_cert));
	json_object_set_new(o, "ca_key", json_string(p->ca_key));
	*out = json_dumps(o, JSON_COMPACT);
	json_decref(o);
	if (!*out) {
		set_err(err, SECCERT_ENOMEM, "identity profile: out of memory");
		return SECCERT_ENOMEM;
	}
	return 0;
}

/* ---- CA ---------------------------------------------------------------------- */

void seccert_ca_free(struct seccert_ca *ca)
{
	if (!ca)
		return;
	X509_free(ca->cert);
	EVP_PKEY_free(ca->key);
	free(ca);
}

int seccert_cert_sha256(const X509 *cert, char *out)
{
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int n = 0;
	if (!X509_digest(cert, EVP_sha256(), md, &n) || n != 32)
		return SECCERT_ECRYPTO;
	for (unsigned i = 0; i < n; i++)
		snprintf(out + 2 * i, 3, "%02x", md[i]);
	return 0;
}

int seccert_cert_serial(const X509 *cert, char *out, size_t cap)
{
	BIGNUM *bn = ASN1_INTEGER_to_BN(X509_get0_serialNumber(cert), NULL);
	char *h = bn ? BN_bn2hex(bn) : NULL;
	int rc = SECCERT_ECRYPTO;
	if (h && strlen(h) < cap) {
		/* lower case, as the fingerprints */
		for (size_t i = 0; h[i]; i++)
			out[i] = (char)(h[i] >= 'A' && h[i] <= 'F' ? h[i] - 'A' + 'a' : h[i]);
		out[strlen(h)] = '\0';
		rc = 0;
	}
	OPENSSL_free(h);
	BN_free(bn);
	return rc;
}

int seccert_ca_load(const uint8_t *cert, size_t cert_len, const uint8_t *key, size_t key_len,
		    struct seccert_ca **out, struct seccert_err *err)
{
	struct seccert_ca *ca = calloc(1, sizeof(*ca));
	uint8_t *tmp = NULL;
	size_t tlen = 0;
	bool pem;
	int rc;

	*out = NULL;
	if (!ca) {
		set_err(err, SECCERT_ENOMEM, "CA: out of memory");
		return SECCERT_ENOMEM;
	}
	/* Through the canonicaliser: the same PEM/DER rules as everywhere else. */
	rc = seccert_pem_cert(cert, cert_len, "CA certificate", &tmp, &tlen, &pem, err);
	if (!rc)
		rc = seccert_pem_read_cert(tmp, tlen, &ca->cert, err);
	free(tmp);
	tmp = NULL;
	if (rc)
		goto fail;
	rc = seccert_pem_key(key, key_len, "CA key", &tmp, &tlen, &pem, err);
	if (!rc)
		rc = seccert_pem_read_key(tmp, tlen, &ca->key, err);
	seccert_pem_free_secret(tmp, tlen);
	if (rc)
		goto fail;
	if (EVP_PKEY_eq(ca->key, X509_get0_pubkey(ca->cert)) != 1) {
		set_err(err, SECCERT_ECRYPTO, "CA: the key does not belong to the CA certificate");
		rc = SECCERT_ECRYPTO;
		goto fail;
	}
	if (X509_check_ca(ca->cert) < 1) {
		set_err(err, SECCERT_ECRYPTO, "CA: the certificate is not a CA certificate (basicConstraints CA:TRUE)");
		rc = SECCERT_ECRYPTO;
		goto fail;
	}
	if (seccert_cert_sha256(ca->cert, ca->sha256)) {
		set_err(err, SECCERT_ECRYPTO, "CA: cannot hash the certificate");
		rc = SECCERT_ECRYPTO;
		goto fail;
	}
	ERR_clear_error();
	*out = ca;
	return 0;
fail:
	ERR_clear_error();
	seccert_ca_free(ca);
	return rc;
}

/* ---- issuing ------------------------------------------------------------------- */

/* Expand one template into out (NUL-terminated). */
static int expand(const char *tmpl, const struct seccert_vars *v, char *out, size_t cap, struct seccert_err *err)
{
	size_t n = 0;
	const char *p = tmpl;

	while (*p) {
		const char *val = NULL;
		size_t vlen = 0;
		char machex[13];
		if (*p != '{') {
			if (n + 1 >= cap)
				goto toolong;
			out[n++] = *p++;
			continue;
		}
		const char *end = strchr(p, '}');
		if (!end) {
			set_err(err, SECCERT_EINVAL, "subject template \"%s\": '{' without '}'", tmpl);
			return SECCERT_EINVAL;
		}
		size_t klen = (size_t)(end - p - 1);
		if (klen == 3 && !strncmp(p + 1, "mac", 3)) {
			val = v->mac;
			vlen = strlen(v->mac);
		} else if (klen == 7 && !strncmp(p + 1, "mac_hex", 7)) {
			size_t k = 0;
			for (const char *m = v->mac; *m && k < 12; m++)
				if (*m != ':' && *m != '-')
					machex[k++] = *m;
			machex[k] = '\0';
			val = machex;
			vlen = k;
		} else if (klen == 6 && !strncmp(p + 1, "record", 6)) {
			val = v->record_id ? v->record_id : "";
			vlen = strlen(val);
		} else if (klen > 6 && !strncmp(p + 1, "field:", 6)) {
			char name[64];
			if (klen - 6 >= sizeof(name)) {
				set_err(err, SECCERT_EINVAL, "subject template \"%s\": field name too long", tmpl);
				return SECCERT_EINVAL;
			}
			memcpy(name, p + 7, klen - 6);
			name[klen - 6] = '\0';
			if (!v->field || v->field(v->ctx, name, &val, &vlen)) {
				set_err(err, SECCERT_EINVAL, "subject template: the record has no field '%s'", name);
				return SECCERT_EINVAL;
			}
			if (memchr(val, '\0', vlen)) {
				set_err(err, SECCERT_EINVAL, "subject template: field '%s' is not text", name);
				return SECCERT_EINVAL;
			}
		} else {
			set_err(err, SECCERT_EINVAL, "subject template \"%s\": unknown placeholder {%.*s}", tmpl, (int)klen,
				p + 1);
			return SECCERT_EINVAL;
		}
		if (n + vlen >= cap)
			goto toolong;
		memcpy(out + n, val, vlen);
		n += vlen;
		p = end + 1;
	}
	out[n] = '\0';
	if (!n) {
		set_err(err, SECCERT_EINVAL, "subject template \"%s\" gives an empty value", tmpl);
		return SECCERT_EINVAL;
	}
	return 0;
toolong:
	set_err(err, SECCERT_EINVAL, "subject template \"%s\": the value is longer than %zu bytes", tmpl, cap - 1);
	return SECCERT_EINVAL;
}

static int add_ext(X509 *cert, X509V3_CTX *ctx, int nid, const char *value)
{
	X509_EXTENSION *ex = X509V3_EXT_conf_nid(NULL, ctx, nid, value);
	int ok = ex && X509_add_ext(cert, ex, -1);
	X509_EXTENSION_free(ex);
	return ok ? 0 : -1;
}

int seccert_keygen(enum seccert_key_type t, EVP_PKEY **out, struct seccert_err *err)
{
	*out = t == SECCERT_KEY_RSA_2048 ? EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)2048)
					 : EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
	ERR_clear_error();
	if (!*out) {
		set_err(err, SECCERT_ECRYPTO, "issue: key generation failed");
		return SECCERT_ECRYPTO;
	}
	return 0;
}

static bool key_is(const EVP_PKEY *k, enum seccert_key_type t)
{
	if (t == SECCERT_KEY_RSA_2048)
		return EVP_PKEY_get_base_id(k) == EVP_PKEY_RSA && EVP_PKEY_get_bits(k) == 2048;
	return EVP_PKEY_get_base_id(k) == EVP_PKEY_EC && EVP_PKEY_get_bits(k) == 256;
}

int seccert_issue(const struct seccert_profile *p, const struct seccert_ca *ca, const struct seccert_vars *v,
		  X509 **cert_out, EVP_PKEY **key_out, struct seccert_err *err)
{
	return seccert_issue_key(p, ca, v, NULL, cert_out, key_out, err);
}

int seccert_issue_key(const struct seccert_profile *p, const struct seccert_ca *ca, const struct seccert_vars *v,
		      EVP_PKEY *given, X509 **cert_out, EVP_PKEY **key_out, struct seccert_err *err)
{
	EVP_PKEY *key = NULL;
	X509 *x = NULL;
	X509_NAME *name = NULL;
	BIGNUM *bn = NULL;
	uint8_t serial[SECCERT_ISSUE_SERIAL_LEN];
	char value[256], san[64], machex[13];
	X509V3_CTX ctx;
	size_t k = 0;
	int rc = SECCERT_ECRYPTO;

	*cert_out = NULL;
	*key_out = NULL;
	key = given; /* ours from here: freed on every error */
	if (key && !key_is(key, p->key_type)) {
		set_err(err, SECCERT_EINVAL, "issue: the key given is not of the profile's type");
		rc = SECCERT_EINVAL;
		goto out;
	}
	if (!v->mac || strlen(v->mac) != 17) {
		set_err(err, SECCERT_EINVAL, "issue: no device MAC");
		rc = SECCERT_EINVAL;
		goto out;
	}
	name = X509_NAME_new();
	if (!name)
		goto crypto;
	for (size_t i = 0; i < p->n_subject; i++) {
		rc = expand(p->subject[i].tmpl, v, value, sizeof(value), err);
		if (rc)
			goto out;
		if (!X509_NAME_add_entry_by_txt(name, p->subject[i].attr, MBSTRING_UTF8, (const unsigned char *)value,
						-1, -1, 0)) {
			set_err(err, SECCERT_EINVAL, "issue: subject %s: value not allowed for that attribute",
				p->subject[i].attr);
			rc = SECCERT_EINVAL;
			goto out;
		}
	}
	if (!key && (rc = seccert_keygen(p->key_type, &key, err)))
		goto out;
	/* A random positive serial: unique per CA without a counter to keep
	 * (the store refuses a repeat anyway). */
	if (RAND_bytes(serial, sizeof(serial)) != 1)
		goto crypto;
	serial[0] &= 0x7F;
	serial[0] |= 0x40; /* never a short (leading zero) serial */
	bn = BN_bin2bn(serial, sizeof(serial), NULL);
	x = X509_new();
	if (!bn || !x || !X509_set_version(x, 2) || !BN_to_ASN1_INTEGER(bn, X509_get_serialNumber(x)) ||
	    !X509_set_issuer_name(x, X509_get_subject_name(ca->cert)) || !X509_set_subject_name(x, name) ||
	    !X509_gmtime_adj(X509_getm_notBefore(x), 0) ||
	    !X509_time_adj_ex(X509_getm_notAfter(x), (int)p->validity_days, 0, NULL) || !X509_set_pubkey(x, key))
		goto crypto;
	for (const char *m = v->mac; *m && k < 12; m++)
		if (*m != ':')
			machex[k++] = *m;
	machex[k] = '\0';
	snprintf(san, sizeof(san), "URI:urn:dev:mac:%s", machex);
	X509V3_set_ctx(&ctx, ca->cert, x, NULL, NULL, 0);
	if (add_ext(x, &ctx, NID_basic_constraints, "critical,CA:FALSE") ||
	    add_ext(x, &ctx, NID_key_usage,
		    p->key_type == SECCERT_KEY_RSA_2048 ? "critical,digitalSignature,keyEncipherment"
							: "critical,digitalSignature") ||
	    add_ext(x, &ctx, NID_ext_key_usage, "clientAuth") || add_ext(x, &ctx, NID_subject_key_identifier, "hash") ||
	    add_ext(x, &ctx, NID_authority_key_identifier, "keyid:always") ||
	    add_ext(x, &ctx, NID_subject_alt_name, san))
		goto crypto;
	if (X509_sign(x, ca->key, EVP_sha256()) <= 0)
		goto crypto;
	*cert_out = x;
	*key_out = key;
	x = NULL;
	key = NULL;
	rc = 0;
	goto out;
crypto:
	set_err(err, SECCERT_ECRYPTO, "issue: OpenSSL failed building the certificate");
	rc = SECCERT_ECRYPTO;
out:
	ERR_clear_error();
	X509_free(x);
	EVP_PKEY_free(key);
	X509_NAME_free(name);
	BN_free(bn);
	return rc;
}

int seccert_issue_image(const X509 *ca, const X509 *cert, const EVP_PKEY *key, bool pad, uint8_t *buf,
			size_t cap, size_t *out_len, struct seccert_err *err)
{
	uint8_t *tlv[3] = {NULL, NULL, NULL};
	size_t len[3] = {0, 0, 0}, n = 0, used = 0;
	struct seccert_entry e[3];
	int rc;

	if (ca) {
		if ((rc = seccert_pem_from_x509(ca, &tlv[0], &len[0], err)))
			goto out;
		e[n++] = (struct seccert_entry){.type = SECCERT_CA_CERT, .data = tlv[0], .len = len[0]};
	}
	if ((rc = seccert_pem_from_x509(cert, &tlv[1], &len[1], err)))
		goto out;
	e[n++] = (struct seccert_entry){.type = SECCERT_DEV_CERT, .data = tlv[1], .len = len[1]};
	if (key) {
		if ((rc = seccert_pem_from_pkey(key, &tlv[2], &len[2], err)))
			goto out;
		e[n++] = (struct seccert_entry){.type = SECCERT_PRIV_KEY, .data = tlv[2], .len = len[2]};
	}
	rc = seccert_build(e, n, true, buf, cap < SECCERT_MAX_IMAGE ? cap : SECCERT_MAX_IMAGE, &used, err);
	if (rc)
		goto out;
	if (pad) {
		memset(buf + used, 0xFF, cap - used);
		used = cap;
	}
	*out_len = used;
out:
	free(tlv[0]);
	free(tlv[1]);
	seccert_pem_free_secret(tlv[2], len[2]);
	return rc;
}
