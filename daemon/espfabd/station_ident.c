/* Per-device identities on the main thread. See station_ident.h. */
#include "station_ident.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/bio.h>
#include <openssl/crypto.h>
#include <openssl/x509.h>

#include "espfab/fsu.h"
#include "espfab/seccert.h"
#include "espfab/seccert_issue.h"
#include "espfab/seccert_pem.h"
#include "espfab/store_cert.h"

#define IDENT_CA_CACHE 8
#define IDENT_MAX_FILE (1u << 20)

struct ident_ca_slot {
	int64_t product_id; /* 0: free */
	struct seccert_ca *ca;
};

/* RSA-2048 key generation takes 50-800 ms (bench_seccert), too long for the
 * main thread, which also serves the control socket and every other port.
 * A helper thread keeps a few RSA keys ready once a product asks for them;
 * ECDSA P-256 keys (about 1 ms) are made in place. */
#define IDENT_POOL 4
#define IDENT_POOL_WAIT_S 30

struct key_pool {
	pthread_mutex_t mu;
	pthread_cond_t cv; /* broadcast on every change */
	pthread_t th;
	int started, stop;
	EVP_PKEY *keys[IDENT_POOL];
	int n;
};

struct station_ident {
	struct ident_ca_slot cas[IDENT_CA_CACHE];
	unsigned next;
	struct key_pool rsa;
};

static void *pool_main(void *arg)
{
	struct key_pool *kp = arg;

	pthread_mutex_lock(&kp->mu);
	while (!kp->stop) {
		EVP_PKEY *k = NULL;
		if (kp->n >= IDENT_POOL) {
			pthread_cond_wait(&kp->cv, &kp->mu);
			continue;
		}
		pthread_mutex_unlock(&kp->mu);
		seccert_keygen(SECCERT_KEY_RSA_2048, &k, NULL);
		pthread_mutex_lock(&kp->mu);
		if (k && !kp->stop && kp->n < IDENT_POOL) {
			kp->keys[kp->n++] = k;
			pthread_cond_broadcast(&kp->cv);
		} else {
			EVP_PKEY_free(k);
			if (!k) /* OpenSSL failing: the taker falls back to its own try */
				break;
		}
	}
	kp->stop = 1;
	pthread_cond_broadcast(&kp->cv);
	pthread_mutex_unlock(&kp->mu);
	return NULL;
}

/* An RSA key from the pool (started on first use), or NULL when the pool
 * cannot deliver one in time: the caller then makes its own. */
static EVP_PKEY *pool_take(struct key_pool *kp)
{
	EVP_PKEY *k = NULL;
	struct timespec until;

	pthread_mutex_lock(&kp->mu);
	if (!kp->started && !kp->stop) {
		if (pthread_create(&kp->th, NULL, pool_main, kp) == 0)
			kp->started = 1;
		else
			kp->stop = 1;
	}
	clock_gettime(CLOCK_REALTIME, &until);
	until.tv_sec += IDENT_POOL_WAIT_S;
	while (!kp->n && !kp->stop)
		if (pthread_cond_timedwait(&kp->cv, &kp->mu, &until) == ETIMEDOUT)
			break;
	if (kp->n) {
		k = kp->keys[--kp->n];
		kp->keys[kp->n] = NULL;
		pthread_cond_broadcast(&kp->cv);
	}
	pthread_mutex_unlock(&kp->mu);
	return k;
}

int station_ident_new(struct station_ident **out)
{
	struct station_ident *si = calloc(1, sizeof(*si));

	*out = NULL;
	if (!si)
		return -ENOMEM;
	if (pthread_mutex_init(&si->rsa.mu, NULL)) {
		free(si);
		return -ENOMEM;
	}
	if (pthread_cond_init(&si->rsa.cv, NULL)) {
		pthread_mutex_destroy(&si->rsa.mu);
		free(si);
		return -ENOMEM;
	}
	*out = si;
	return 0;
}

void station_ident_free(struct station_ident *si)
{
	if (!si)
		return;
	pthread_mutex_lock(&si->rsa.mu);
	si->rsa.stop = 1;
	pthread_cond_broadcast(&si->rsa.cv);
	pthread_mutex_unlock(&si->rsa.mu);
	if (si->rsa.started)
		pthread_join(si->rsa.th, NULL);
	for (int i = 0; i < si->rsa.n; i++)
		EVP_PKEY_free(si->rsa.keys[i]); /* OpenSSL clears the private parts */
	pthread_cond_destroy(&si->rsa.cv);
	pthread_mutex_destroy(&si->rsa.mu);
	for (unsigned i = 0; i < IDENT_CA_CACHE; i++)
		seccert_ca_free(si->cas[i].ca);
	free(si);
}

/* "credential:NAME" is a systemd credential (LoadCredential=), else a path. */
static int read_secret_file(const char *spec, uint8_t **out, size_t *len, char *msg, size_t cap)
{
	char path[512];
	int rc;

	*out = NULL;
	if (!strncmp(spec, "credential:", 11)) {
		const char *dir = getenv("CREDENTIALS_DIRECTORY");
		if (!dir || strchr(spec + 11, '/')) {
			snprintf(msg, cap, "%s: no systemd credentials directory for it", spec);
			return -1;
		}
		snprintf(path, sizeof(path), "%s/%s", dir, spec + 11);
	} else {
		snprintf(path, sizeof(path), "%s", spec);
	}
	rc = fsu_read_file(path, IDENT_MAX_FILE, out, len);
	if (!rc && !*len) {
		free(*out);
		*out = NULL;
		rc = -ENODATA;
	}
	if (rc) {
		snprintf(msg, cap, "%.200s: %s", path,
			 rc == -EFBIG ? "too large" : rc == -ENODATA ? "empty or unreadable" : strerror(-rc));
		return -1;
	}
	return 0;
}

static struct seccert_ca *ca_for(struct station_ident *si, int64_t product_id, const struct seccert_profile *p,
				 char *msg, size_t cap)
{
	uint8_t *cert = NULL, *key = NULL;
	size_t clen = 0, klen = 0;
	struct seccert_ca *ca = NULL;
	struct seccert_err err = {0};
	char why[300];
	struct ident_ca_slot *slot;

	for (unsigned i = 0; i < IDENT_CA_CACHE; i++)
		if (si->cas[i].product_id == product_id && si->cas[i].ca)
			return si->cas[i].ca;
	if (read_secret_file(p->ca_cert, &cert, &clen, why, sizeof(why))) {
		snprintf(msg, cap, "identity: CA certificate %s", why);
		goto out;
	}
	if (read_secret_file(p->ca_key, &key, &klen, why, sizeof(why))) {
		snprintf(msg, cap, "identity: CA key %s", why);
		goto out;
	}
	if (seccert_ca_load(cert, clen, key, klen, &ca, &err)) {
		snprintf(msg, cap, "identity: %s", err.msg);
		goto out;
	}
	slot = &si->cas[si->next++ % IDENT_CA_CACHE];
	seccert_ca_free(slot->ca);
	slot->product_id = product_id;
	slot->ca = ca;
out:
	free(cert);
	if (key) {
		OPENSSL_cleanse(key, klen);
		free(key);
	}
	return ca;
}

static int record_field(void *ctx, const char *name, const char **value, size_t *len)
{
	const struct store_record *r = ctx;
	for (size_t i = 0; i < r->n_values; i++)
		if (!strcmp(r->values[i].field->key, name)) {
			*value = (const char *)r->values[i].data;
			*len = r->values[i].len;
			return 0;
		}
	return -1;
}

/* Append extra to rep->data (after the NVS image). */
static int append(struct jobq_msg *rep, const uint8_t *extra, size_t n, char *msg, size_t cap)
{
	uint8_t *d = malloc(rep->len + n);
	if (!d) {
		snprintf(msg, cap, "identity: out of memory");
		return -1;
	}
	memcpy(d, rep->data, rep->len);
	memcpy(d + rep->len, extra, n);
	OPENSSL_cleanse(rep->data, rep->len);
	free(rep->data);
	rep->data = d;
	rep->len += n;
	return 0;
}

static void name_text(const X509_NAME *n, char *buf, size_t cap)
{
	BIO *b = BIO_new(BIO_s_mem());
	char *p = NULL;
	long len;
	buf[0] = '\0';
	if (b && X509_NAME_print_ex(b, n, 0, XN_FLAG_RFC2253 & ~ASN1_STRFLGS_ESC_MSB) >= 0) {
		len = BIO_get_mem_data(b, &p);
		snprintf(buf, cap, "%.*s", (int)len, p);
	}
	BIO_free(b);
}

static void time_text(const ASN1_TIME *t, char *buf, size_t cap)
{
	struct tm tm;
	if (t && ASN1_TIME_to_tm(t, &tm))
		strftime(buf, cap, "%Y-%m-%dT%H:%M:%SZ", &tm);
	else
		snprintf(buf, cap, "?");
}

/* Nothing live, or issued but never delivered (its key was only in
 * memory): a new identity for the device (*cert and *key the caller's);
 * store_cert_add supersedes the old one. */
static int issue_new(struct station_ident *si, struct store *st, const struct store_record *r,
		     const struct station_ident_ctx *c, const struct seccert_profile *prof, struct seccert_ca *ca,
		     X509 **cert, EVP_PKEY **key, char *msg, size_t cap)
{
	struct seccert_vars v = {.mac = c->mac, .record_id = r->record_id, .field = record_field, .ctx = (void *)r};
	struct store_cert_new n = {.product_id = r->product->id, .product = r->product->name, .mac = c->mac,
				   .record_id = r->record_id, .station = c->station, .port = c->port,
				   .ca_sha256 = ca->sha256, .job_id = c->job_id};
	char serial[80], sha[65], subject[300], not_after[32];
	EVP_PKEY *ready = prof->key_type == SECCERT_KEY_RSA_2048 ? pool_take(&si->rsa) : NULL;
	struct seccert_err err = {0};
	struct store_err serr = {0};
	uint8_t *keytlv = NULL, *der = NULL;
	size_t keytlv_len = 0;
	int der_len, rc = -1;

	if (seccert_issue_key(prof, ca, &v, ready, cert, key, &err)) {
		snprintf(msg, cap, "identity: %s", err.msg);
		return -1;
	}
	der_len = i2d_X509(*cert, &der);
	if (der_len <= 0 || seccert_cert_serial(*cert, serial, sizeof(serial)) || seccert_cert_sha256(*cert, sha)) {
		snprintf(msg, cap, "identity: cannot encode the certificate");
		goto out;
	}
	if (prof->keep_keys && seccert_pem_from_pkey(*key, &keytlv, &keytlv_len, &err)) {
		snprintf(msg, cap, "identity: %s", err.msg);
		goto out;
	}
	name_text(X509_get_subject_name(*cert), subject, sizeof(subject));
	time_text(X509_get0_notAfter(*cert), not_after, sizeof(not_after));
	n.serial = serial;
	n.sha256 = sha;
	n.subject = subject;
	n.not_after = not_after;
	n.der = der;
	n.der_len = (size_t)der_len;
	n.key = keytlv;
	n.key_len = keytlv_len;
	if (store_cert_add(st, &n, &serr)) {
		snprintf(msg, cap, "identity: %s", serr.msg);
		goto out;
	}
	rc = 0;
out:
	seccert_pem_free_secret(keytlv, keytlv_len);
	OPENSSL_free(der);
	return rc;
}

/* The whole esp_secure_cert partition image appended to rep's data: 0xFF
 * after the chain, so an older image's tail does not follow the new one. */
static int append_image(struct jobq_msg *rep, const struct store_identity *id, const struct seccert_profile *prof,
			struct seccert_ca *ca, X509 *cert, EVP_PKEY *key, char *msg, size_t cap)
{
	struct seccert_err err = {0};
	uint8_t *img = malloc(id->part_size);
	size_t img_len = 0;
	int rc = -1;

	if (!img) {
		snprintf(msg, cap, "identity: out of memory");
		return -1;
	}
	if (seccert_issue_image(prof->include_ca ? ca->cert : NULL, cert, key, true, img, id->part_size, &img_len,
				&err)) {
		snprintf(msg, cap, "identity: %s", err.msg);
		goto out;
	}
	if (append(rep, img, img_len, msg, cap))
		goto out;
	rep->u.claim.ident = JOBQ_IDENT_WRITE;
	rep->u.claim.ident_len = (uint32_t)img_len;
	rep->u.claim.ident_offset = id->part_offset;
	rc = 0;
out:
	OPENSSL_cleanse(img, id->part_size);
	free(img);
	return rc;
}

int station_ident_prepare(struct station_ident *si, struct store *st, const struct store_record *r,
			  const struct station_ident_ctx *c, struct jobq_msg *rep, char *msg, size_t cap)
{
	struct store_identity *id = NULL;
	struct store_cert *live = NULL;
	struct store_err serr = {0};
	struct seccert_err err = {0};
	struct seccert_profile prof;
	struct seccert_ca *ca;
	X509 *cert = NULL;
	EVP_PKEY *key = NULL;
	int rc = -1, e;

	rep->u.claim.ident = JOBQ_IDENT_NONE;
	e = store_identity_get(st, r->product->id, &id, &serr);
	if (e == STORE_ENOTFOUND)
		return 0;
	if (e) {
		snprintf(msg, cap, "identity: %s", serr.msg);
		return -1;
	}
	if (seccert_profile_parse(id->profile_json, strlen(id->profile_json), &prof, &err)) {
		snprintf(msg, cap, "identity: %s", err.msg);
		goto out;
	}
	e = store_cert_live(st, r->product->id, c->mac, &live, &serr);
	if (e && e != STORE_ENOTFOUND) {
		snprintf(msg, cap, "identity: %s", serr.msg);
		goto out;
	}
	if (live && !live->key && !strcmp(live->state, "delivered")) {
		/* The key lives only on the device: it must still hold it. */
		if (append(rep, live->der, live->der_len, msg, cap))
			goto out;
		rep->u.claim.ident = JOBQ_IDENT_CHECK;
		rep->u.claim.ident_len = (uint32_t)live->der_len;
		rep->u.claim.ident_offset = id->part_offset;
		rc = 0;
		goto out;
	}
	ca = ca_for(si, r->product->id, &prof, msg, cap);
	if (!ca)
		goto out;
	if (live && live->key) {
		const unsigned char *p = live->der;
		cert = d2i_X509(NULL, &p, (long)live->der_len);
		if (!cert || seccert_pem_read_key(live->key, live->key_len, &key, &err)) {
			snprintf(msg, cap, "identity: the stored certificate %s or its key does not decode", live->serial);
			goto out;
		}
	} else if (issue_new(si, st, r, c, &prof, ca, &cert, &key, msg, cap)) {
		goto out;
	}
	rc = append_image(rep, id, &prof, ca, cert, key, msg, cap);
out:
	X509_free(cert);
	EVP_PKEY_free(key);
	store_cert_free(live);
	store_identity_free(id);
	return rc;
}
