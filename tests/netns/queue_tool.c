/* SPDX-License-Identifier: MIT */
/* Drives a relay's queue API through the node's client (http/queue_client.h)
 * for tests/netns/queue_relay.sh. The recipient is a fixed identity (seed
 * 0x42...), so separate runs agree on who it is.
 *
 *   queue_tool URL put N BATCH ACKFILE   N envelopes (8 KiB, random IDs) in
 *       requests of BATCH; retries a request until the relay answers (it may
 *       be down); writes each acknowledged ID (hex) to ACKFILE once.
 *   queue_tool URL drain OUTFILE         reads every pending envelope (pages
 *       of 1000), writes its ID to OUTFILE, deletes them in batches;
 *       retries likewise.
 *   queue_tool URL list OUTFILE          one page of pending IDs, none deleted.
 *   queue_tool URL put1                  one envelope (a refusal's word is
 *       printed: exit 2). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <sodium.h>

#include "crypto/identity.h"
#include "http/queue_client.h"
#include "util/error.h"
#include "wire/envelope.h"

enum { ENV_LEN = 8192 };

static struct um_identity recipient;

static void pause_ms(long ms)
{
	struct timespec t = {ms / 1000, (ms % 1000) * 1000000};
	nanosleep(&t, NULL);
}

static void make_envelope(uint8_t *env)
{
	struct um_envelope_header h = {.version = UM_ENVELOPE_VERSION, .bucket = 0};

	memcpy(h.recipient, recipient.id.bytes, 32);
	randombytes_buf(h.id, sizeof(h.id));
	randombytes_buf(env, ENV_LEN);
	um_envelope_header_encode(env, &h);
}

static int put(struct um_queue_client *c, long n, long batch, const char *ackfile)
{
	FILE *f = fopen(ackfile, "a");
	uint8_t *env = malloc((size_t)batch * ENV_LEN);
	const uint8_t **p = calloc((size_t)batch, sizeof(*p));
	size_t *len = calloc((size_t)batch, sizeof(*len));
	int *res = calloc((size_t)batch, sizeof(*res));
	long acked = 0, tries = 0;
	char hex[33];

	if (!f || !env || !p || !len || !res)
		return 1;
	while (acked < n) {
		long k = n - acked < batch ? n - acked : batch;
		for (long i = 0; i < k; i++) {
			make_envelope(env + i * ENV_LEN);
			p[i] = env + i * ENV_LEN;
			len[i] = ENV_LEN;
		}
		/* The same batch again until answered: a put is idempotent. */
		for (;;) {
			int r = um_queue_client_put(c, p, len, (size_t)k, res);
			if (r == 0)
				break;
			if (++tries > 20000) {
				fprintf(stderr, "put: %s, giving up\n", um_strerror(r));
				return 1;
			}
			pause_ms(20);
		}
		for (long i = 0; i < k; i++) {
			if (res[i] == 0) {
				sodium_bin2hex(hex, sizeof(hex), p[i] + 34, 16);
				fprintf(f, "%s\n", hex);
				acked++;
			} else {
				fprintf(stderr, "envelope refused: %s\n", um_strerror(res[i]));
				return 1;
			}
		}
		fflush(f);
	}
	fclose(f);
	printf("acked %ld after %ld retries\n", acked, tries);
	free(env);
	free(p);
	free(len);
	free(res);
	return 0;
}

struct page {
	size_t n;
	uint8_t (*id)[16];
};

static int on_envelope(void *ctx, const uint8_t id[16], uint64_t arrival_ms, const uint8_t *env, size_t len)
{
	struct page *pg = ctx;
	(void)arrival_ms;
	if (len != ENV_LEN || memcmp(env + 34, id, 16) || memcmp(env + 2, recipient.id.bytes, 32))
		return -UM_EINVAL;
	memcpy(pg->id[pg->n++], id, 16);
	return 0;
}

/* One page of up to 1000 pending IDs into outfile, nothing deleted. */
static int list(struct um_queue_client *c, const char *outfile)
{
	FILE *f = fopen(outfile, "w");
	struct page pg = {.id = malloc(1000 * 16)};
	char hex[33];
	int r;

	if (!f || !pg.id)
		return 1;
	r = um_queue_client_pending(c, &recipient, 1000, on_envelope, &pg);
	for (size_t i = 0; i < pg.n; i++) {
		sodium_bin2hex(hex, sizeof(hex), pg.id[i], 16);
		fprintf(f, "%s\n", hex);
	}
	fclose(f);
	free(pg.id);
	if (r)
		fprintf(stderr, "pending: %s\n", um_strerror(r));
	return r ? 1 : 0;
}

static int drain(struct um_queue_client *c, const char *outfile)
{
	FILE *f = fopen(outfile, "w");
	struct page pg = {.id = malloc(1000 * 16)};
	long total = 0;
	char hex[33];
	int r;

	if (!f || !pg.id)
		return 1;
	for (;;) {
		pg.n = 0;
		while ((r = um_queue_client_pending(c, &recipient, 1000, on_envelope, &pg)) == -UM_EAGAIN ||
		       r == -UM_ELIMIT)
			pg.n = 0, pause_ms(50);
		if (r) {
			fprintf(stderr, "pending: %s\n", um_strerror(r));
			return 1;
		}
		if (!pg.n)
			break;
		for (size_t i = 0; i < pg.n; i++) {
			sodium_bin2hex(hex, sizeof(hex), pg.id[i], 16);
			fprintf(f, "%s\n", hex);
		}
		/* Batch deletes (one signature per UM_QUEUE_API_DELETE_MAX), as
		 * nodes delete: one signature each made the ASan run's drain of
		 * 10,000 take minutes. */
		for (size_t i = 0; i < pg.n; i += UM_QUEUE_API_DELETE_MAX) {
			size_t n = pg.n - i < UM_QUEUE_API_DELETE_MAX ? pg.n - i : UM_QUEUE_API_DELETE_MAX;
			while ((r = um_queue_client_delete_many(c, &recipient, pg.id + i, n, NULL)) == -UM_EAGAIN ||
			       r == -UM_ELIMIT)
				pause_ms(50);
			if (r) {
				fprintf(stderr, "delete: %s\n", um_strerror(r));
				return 1;
			}
		}
		total += (long)pg.n;
	}
	fclose(f);
	free(pg.id);
	printf("drained %ld\n", total);
	return 0;
}

static int put1(struct um_queue_client *c)
{
	uint8_t env[ENV_LEN];
	const uint8_t *p = env;
	size_t len = ENV_LEN;
	int res = 0, r;

	make_envelope(env);
	r = um_queue_client_put(c, &p, &len, 1, &res);
	r = r ? r : res;
	printf("%s\n", r ? um_strerror(r) : "queued");
	return r ? 2 : 0;
}

int main(int argc, char **argv)
{
	struct um_queue_client c;
	uint8_t seed[UM_HSIG_SEED_BYTES];
	int rc = 1;

	if (argc < 3 || sodium_init() < 0)
		return 1;
	memset(seed, 0x42, sizeof(seed));
	if (um_identity_from_seed(&recipient, seed) || um_queue_client_init(&c, argv[1]))
		return 1;
	c.http.timeout_ms = 5000;
	if (!strcmp(argv[2], "put") && argc == 6)
		rc = put(&c, atol(argv[3]), atol(argv[4]), argv[5]);
	else if (!strcmp(argv[2], "drain") && argc == 4)
		rc = drain(&c, argv[3]);
	else if (!strcmp(argv[2], "list") && argc == 4)
		rc = list(&c, argv[3]);
	else if (!strcmp(argv[2], "put1") && argc == 3)
		rc = put1(&c);
	else
		fprintf(stderr, "usage: queue_tool URL put N BATCH ACKFILE | drain OUTFILE | list OUTFILE | put1\n");
	um_queue_client_close(&c);
	um_identity_wipe(&recipient);
	return rc;
}
