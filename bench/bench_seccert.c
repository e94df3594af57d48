/* bench_seccert: what a device's identity costs the station in-process.
 *   bench_seccert CA_CERT CA_KEY [N]   (default 50 identities per figure)
 * Prints identities/s and ms each for: ECDSA P-256 and RSA-2048 key
 * generation + certificate signing (seccert_issue), and building the
 * padded 8 KiB esp_secure_cert image (seccert_issue_image). The station
 * does one of each per device on its main thread. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/evp.h>
#include <openssl/x509.h>

#include "espfab/fsu.h"
#include "espfab/seccert_issue.h"

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static uint8_t *slurp(const char *path, size_t *len)
{
	uint8_t *b = NULL;

	if (fsu_read_file(path, 1 << 20, &b, len))
		*len = 0;
	return b;
}

int main(int argc, char **argv)
{
	static const char prof[] = "{\"subject\": [[\"O\", \"bench\"], [\"CN\", \"{mac}\"]], \"ca_cert\": \"x\", "
				   "\"ca_key\": \"y\"}";
	struct seccert_profile p;
	struct seccert_ca *ca = NULL;
	struct seccert_err err = {0};
	struct seccert_vars v = {.mac = "24:0a:c4:00:00:01"};
	size_t cl, kl;
	uint8_t *c, *k, img[0x2000];
	long n;

	if (argc < 3) {
		fprintf(stderr, "usage: bench_seccert CA_CERT CA_KEY [N]\n");
		return 2;
	}
	n = argc > 3 ? atol(argv[3]) : 50;
	if (n <= 0)
		n = 1;
	c = slurp(argv[1], &cl);
	k = slurp(argv[2], &kl);
	if (seccert_profile_parse(prof, sizeof(prof) - 1, &p, &err) || seccert_ca_load(c, cl, k, kl, &ca, &err)) {
		fprintf(stderr, "bench_seccert: %s\n", err.msg);
		return 1;
	}
	for (int kt = 0; kt < 2; kt++) {
		double t_issue = 0, t_img = 0, t;
		p.key_type = kt ? SECCERT_KEY_RSA_2048 : SECCERT_KEY_EC_P256;
		for (long i = 0; i < n; i++) {
			X509 *x = NULL;
			EVP_PKEY *key = NULL;
			size_t len;
			t = now();
			if (seccert_issue(&p, ca, &v, &x, &key, &err)) {
				fprintf(stderr, "bench_seccert: %s\n", err.msg);
				return 1;
			}
			t_issue += now() - t;
			t = now();
			if (seccert_issue_image(ca->cert, x, key, true, img, sizeof(img), &len, &err)) {
				fprintf(stderr, "bench_seccert: %s\n", err.msg);
				return 1;
			}
			t_img += now() - t;
			X509_free(x);
			EVP_PKEY_free(key);
		}
		printf("%-12s issue (keygen + sign): %7.2f ms each, %7.1f/s;  image: %6.3f ms each\n",
		       kt ? "RSA-2048" : "ECDSA P-256", 1e3 * t_issue / (double)n, (double)n / t_issue,
		       1e3 * t_img / (double)n);
	}
	seccert_ca_free(ca);
	free(c);
	free(k);
	return 0;
}
