/* SPDX-License-Identifier: MIT */
/* The relay queue API over HTTP on loopback (issue 17's benchmark): a relay
 * queue service (node/relay_queue.h: the durable queue, the group-commit
 * committer, the HTTP listener) in this process, N client threads each with
 * the node's client (http/queue_client.h), every acknowledgement after
 * fsync. Prints envelopes/s accepted, p50/p99 acknowledgement latency (one
 * put call: challenge + put, as a node does it), commits per request, and
 * the time for a recipient to read and delete a queue of 100.
 *
 *   bench-queue-api [DIR [SECONDS [binary|json]]]   DIR: where the queue goes
 *                     (default "."; use a real disk, not tmpfs); binary: only
 *                     the binary-body runs (application/octet-stream,
 *                     PROTOCOL §21, keep-alive, each answer's challenge reused) */
#include <dirent.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include <curl/curl.h>
#include <sodium.h>

#include "crypto/identity.h"
#include "http/queue_client.h"
#include "node/relay_queue.h"
#include "util/bytes.h"
#include "util/clock.h"
#include "util/error.h"
#include "wire/envelope.h"

enum { ENV_LEN = 8192, MAX_CLIENTS = 64, MAX_SAMPLES = 200000 };

static char base[64];
static double seconds = 3;
static _Atomic int stop_flag;

struct worker {
	pthread_t thread;
	size_t batch;
	bool binary; /* the binary body, keep-alive, the answer's challenge reused */
	uint8_t tag[8];
	uint64_t counter;
	uint64_t envelopes, failures, n_samples;
	uint64_t *samples; /* ns per put call */
};

static void make_envelope(uint8_t *env, const uint8_t recipient[32])
{
	struct um_envelope_header h = {.version = UM_ENVELOPE_VERSION, .bucket = 0};

	memcpy(h.recipient, recipient, 32);
	randombytes_buf(h.id, sizeof(h.id));
	randombytes_buf(env + UM_ENVELOPE_HEADER_BYTES, 64); /* the rest: whatever was there */
	um_envelope_header_encode(env, &h);
}

struct answer {
	char text[64 * 1024];
	size_t len;
};

static size_t on_answer(char *data, size_t size, size_t n, void *ctx)
{
	struct answer *a = ctx;
	size_t take = size * n;

	if (take > sizeof(a->text) - 1 - a->len)
		take = sizeof(a->text) - 1 - a->len;
	memcpy(a->text + a->len, data, take);
	a->len += take;
	a->text[a->len] = 0;
	return size * n;
}

/* The "challenge" member of an answer: 0 when found. */
static int answer_challenge(const struct answer *a, uint8_t out[32])
{
	const char *p = strstr(a->text, "\"challenge\":\"");
	size_t bin_len = 0;

	if (!p)
		return -1;
	p += strlen("\"challenge\":\"");
	return sodium_base642bin(out, 32, p, 44, NULL, &bin_len, NULL, sodium_base64_VARIANT_ORIGINAL) || bin_len != 32;
}

static long post(CURL *curl, const char *path, const uint8_t *body, size_t len, struct answer *a)
{
	char url[128];
	long status = 0;

	snprintf(url, sizeof(url), "%s%s", base, path);
	a->len = 0;
	a->text[0] = 0;
	curl_easy_setopt(curl, CURLOPT_URL, url);
	curl_easy_setopt(curl, CURLOPT_POSTFIELDS, body);
	curl_easy_setopt(curl, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)len);
	if (curl_easy_perform(curl) != CURLE_OK)
		return 0;
	curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &status);
	return status;
}

/* The binary form (PROTOCOL §21) over one keep-alive connection: a
 * challenge once, then each answer's challenge for the next request. */
static void *worker_binary(void *arg)
{
	struct worker *w = arg;
	size_t cap = UM_QUEUE_API_BINARY_HEADER + w->batch * (4 + ENV_LEN);
	uint8_t *body = calloc(1, cap), challenge[32];
	struct answer *a = malloc(sizeof(*a));
	struct curl_slist *headers = NULL;
	CURL *curl = curl_easy_init();
	bool have_challenge = false;

	randombytes_buf(w->tag, sizeof(w->tag));
	headers = curl_slist_append(headers, "Content-Type: application/octet-stream");
	headers = curl_slist_append(headers, "Expect:");
	curl_easy_setopt(curl, CURLOPT_HTTPHEADER, headers);
	curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, on_answer);
	curl_easy_setopt(curl, CURLOPT_WRITEDATA, a);
	curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(curl, CURLOPT_TIMEOUT_MS, 30000L);
	while (!stop_flag) {
		uint64_t t0 = um_now_ns();

		if (!have_challenge) {
			if (post(curl, "/api/relay/challenge", (const uint8_t *)"", 0, a) != 200 ||
			    answer_challenge(a, challenge) != 0) {
				w->failures++;
				continue;
			}
		}
		memcpy(body, UM_QUEUE_API_BINARY_MAGIC, 4);
		body[4] = 1;
		body[5] = 0;
		body[6] = (uint8_t)(w->batch >> 8);
		body[7] = (uint8_t)w->batch;
		memcpy(body + 8, challenge, 32);
		size_t at = UM_QUEUE_API_BINARY_HEADER;
		for (size_t i = 0; i < w->batch; i++) {
			/* Unique recipient and ID from a counter (random bytes
			 * cost a system call each: the relay's CPU is measured). */
			struct um_envelope_header h = {.version = UM_ENVELOPE_VERSION, .bucket = 0};
			uint64_t n = ++w->counter;

			memcpy(h.recipient, w->tag, 8);
			memcpy(h.recipient + 8, &n, 8);
			memcpy(h.id, w->tag, 8);
			memcpy(h.id + 8, &n, 8);
			um_store32_be(body + at, ENV_LEN);
			um_envelope_header_encode(body + at + 4, &h);
			at += 4 + ENV_LEN;
		}
		long status = post(curl, "/api/relay/queue", body, at, a);
		uint64_t dt = um_now_ns() - t0;
		have_challenge = status == 200 && answer_challenge(a, challenge) == 0;
		if (status != 200) {
			w->failures++;
			continue;
		}
		/* Every envelope listed as queued: count the IDs. */
		for (const char *p = strstr(a->text, "\"queued\":["); p && *p && *p != ']'; p++)
			w->envelopes += *p == ',' || p[-1] == '[';
		if (w->n_samples < MAX_SAMPLES)
			w->samples[w->n_samples++] = dt;
	}
	curl_easy_cleanup(curl);
	curl_slist_free_all(headers);
	free(a);
	free(body);
	return NULL;
}

static void *worker_run(void *arg)
{
	struct worker *w = arg;
	struct um_queue_client c;
	uint8_t *env = calloc(w->batch, ENV_LEN), recipient[32];
	const uint8_t *p[UM_QUEUE_API_PUT_MAX];
	size_t len[UM_QUEUE_API_PUT_MAX];
	int res[UM_QUEUE_API_PUT_MAX];

	um_queue_client_init(&c, base);
	while (!stop_flag) {
		for (size_t i = 0; i < w->batch; i++) {
			randombytes_buf(recipient, sizeof(recipient)); /* no per-recipient limit reached */
			make_envelope(env + i * ENV_LEN, recipient);
			p[i] = env + i * ENV_LEN;
			len[i] = ENV_LEN;
		}
		uint64_t t0 = um_now_ns();
		int r = um_queue_client_put(&c, p, len, w->batch, res);
		uint64_t dt = um_now_ns() - t0;
		if (r) {
			w->failures++;
			continue;
		}
		for (size_t i = 0; i < w->batch; i++)
			w->envelopes += res[i] == 0;
		if (w->n_samples < MAX_SAMPLES)
			w->samples[w->n_samples++] = dt;
	}
	um_queue_client_close(&c);
	free(env);
	return NULL;
}

/* CPU time (user + system) of the process, ns: what the machine's load
 * does not blur as much as envelopes/s. */
static uint64_t cpu_ns(void)
{
	struct rusage ru;

	getrusage(RUSAGE_SELF, &ru);
	return (uint64_t)(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) * 1000000000ull +
	       (uint64_t)(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) * 1000ull;
}

/* CPU time of the threads alive now, ns: measured before the clients start
 * and after they are joined, the relay's alone (its listener and committer
 * threads; the main thread sleeps). */
static uint64_t relay_cpu_ns(void)
{
	DIR *dir = opendir("/proc/self/task");
	struct dirent *d;
	uint64_t ticks = 0;
	long hz = sysconf(_SC_CLK_TCK);

	while (dir && (d = readdir(dir))) {
		char file[300], line[1024];
		unsigned long utime = 0, stime = 0;
		FILE *f;

		if (d->d_name[0] == '.')
			continue;
		snprintf(file, sizeof(file), "/proc/self/task/%s/stat", d->d_name);
		f = fopen(file, "r");
		if (!f)
			continue;
		const char *p = fgets(line, sizeof(line), f) ? strrchr(line, ')') : NULL;
		/* After "pid (comm)": state, then fields 4..13, then utime stime. */
		if (p && sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %lu %lu", &utime, &stime) == 2)
			ticks += utime + stime;
		fclose(f);
	}
	if (dir)
		closedir(dir);
	return ticks * (1000000000ull / (uint64_t)(hz > 0 ? hz : 100));
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
	return x < y ? -1 : x > y;
}

static void run(struct um_relay_queue *rq, int clients, size_t batch, bool binary)
{
	struct worker w[MAX_CLIENTS];
	struct um_queue_api_stats before, after;
	uint64_t total = 0, fails = 0, n = 0, *all;

	um_queue_api_stats(um_relay_queue_api(rq), &before);
	uint64_t cpu0 = cpu_ns(), relay0 = relay_cpu_ns();
	stop_flag = 0;
	for (int i = 0; i < clients; i++) {
		w[i] = (struct worker){
		    .batch = batch, .binary = binary, .samples = malloc(MAX_SAMPLES * sizeof(uint64_t))};
		pthread_create(&w[i].thread, NULL, binary ? worker_binary : worker_run, &w[i]);
	}
	uint64_t t0 = um_now_ns();
	usleep((useconds_t)(seconds * 1e6));
	stop_flag = 1;
	for (int i = 0; i < clients; i++)
		pthread_join(w[i].thread, NULL);
	double elapsed = (double)(um_now_ns() - t0) / 1e9;
	double cpu_us = (double)(cpu_ns() - cpu0) / 1e3, relay_us = (double)(relay_cpu_ns() - relay0) / 1e3;
	um_queue_api_stats(um_relay_queue_api(rq), &after);
	all = malloc((size_t)clients * MAX_SAMPLES * sizeof(uint64_t));
	for (int i = 0; i < clients; i++) {
		total += w[i].envelopes;
		fails += w[i].failures;
		memcpy(all + n, w[i].samples, w[i].n_samples * sizeof(uint64_t));
		n += w[i].n_samples;
		free(w[i].samples);
	}
	qsort(all, n, sizeof(uint64_t), cmp_u64);
	uint64_t commits = after.batches - before.batches;
	printf("%s %3d clients x %3zu envelopes/request: %8.0f envelopes/s  ack p50 %6.2f ms  p99 %6.2f ms  "
	       "%5.1f requests/commit  CPU %5.1f us/envelope (relay %5.1f)  %llu failed\n",
	       binary ? "binary" : "json  ", clients, batch, (double)total / elapsed, n ? (double)all[n / 2] / 1e6 : 0,
	       n ? (double)all[n * 99 / 100] / 1e6 : 0, commits ? (double)n / (double)commits : 0,
	       total ? cpu_us / (double)total : 0, total ? relay_us / (double)total : 0, (unsigned long long)fails);
	free(all);
}

static int count_one(void *ctx, const uint8_t id[16], uint64_t arrival_ms, const uint8_t *env, size_t len)
{
	(void)id;
	(void)arrival_ms;
	(void)env;
	(void)len;
	(*(size_t *)ctx)++;
	return 0;
}

static void drain(void)
{
	struct um_identity me;
	struct um_queue_client c;
	uint8_t *env = calloc(100, ENV_LEN);
	const uint8_t *p[50];
	size_t len[50], got = 0;
	int res[50];
	uint64_t deleted = 0;

	um_identity_generate(&me);
	um_queue_client_init(&c, base);
	for (int round = 0; round < 2; round++) {
		for (int i = 0; i < 50; i++) {
			make_envelope(env + (size_t)(round * 50 + i) * ENV_LEN, me.id.bytes);
			p[i] = env + (size_t)(round * 50 + i) * ENV_LEN;
			len[i] = ENV_LEN;
		}
		um_queue_client_put(&c, p, len, 50, res);
	}
	uint64_t t0 = um_now_ns();
	int r = um_queue_client_pending(&c, &me, 100, count_one, &got);
	uint64_t t1 = um_now_ns();
	int d = um_queue_client_delete_all(&c, &me, &deleted);
	uint64_t t2 = um_now_ns();
	printf("drain a queue of 100 (8 KiB): pending %zu in %.1f ms, delete_all %llu in %.1f ms, total %.1f ms%s\n",
	       got, (double)(t1 - t0) / 1e6, (unsigned long long)deleted, (double)(t2 - t1) / 1e6,
	       (double)(t2 - t0) / 1e6, r || d ? " (errors)" : "");
	um_queue_client_close(&c);
	um_identity_wipe(&me);
	free(env);
}

int main(int argc, char **argv)
{
	const char *dir = argc > 1 ? argv[1] : ".";
	struct um_config_relay_server rc = {
	    .queue_ttl_ms = 3600000, .queue_max_messages = 100, .queue_max_bytes = 1 << 20};
	struct um_queue_api_config ac = {.requests_per_s = 1000000, .request_burst = 1000000, .max_body = 4 << 20};
	struct um_http_server_config hc = {.max_connections = 512, .per_ip_connections = 256};
	struct um_http_server *server = NULL;
	struct um_relay_queue *rq = NULL;
	static const int clients[] = {1, 4, 16, 64};

	if (argc > 2)
		seconds = atof(argv[2]);
	bool binary_only = argc > 3 && strcmp(argv[3], "binary") == 0;
	bool json_only = argc > 3 && strcmp(argv[3], "json") == 0;
	if (sodium_init() < 0 || curl_global_init(CURL_GLOBAL_DEFAULT))
		return 1;
	snprintf(rc.queue_path, sizeof(rc.queue_path), "%s/bench-queue-api-%d.db", dir, (int)getpid());
	if (um_relay_queue_open(&rq, &rc, &ac))
		return 1;
	um_addr_parse_host(&hc.listen, "127.0.0.1");
	if (um_http_server_create(&server, &hc) || um_relay_queue_attach(rq, server) || um_http_server_start(server))
		return 1;
	snprintf(base, sizeof(base), "http://127.0.0.1:%u", um_http_server_port(server));
	printf("relay queue API on %s, database %s, %.1f s per run\n", base, rc.queue_path, seconds);
	for (size_t b = 0; b < 2 && !binary_only; b++) {
		size_t batch = b == 0 ? 1 : 64;
		for (size_t i = 0; i < sizeof(clients) / sizeof(clients[0]); i++)
			run(rq, clients[i], batch, false);
	}
	for (size_t b = 0; b < 3 && !json_only; b++) {
		size_t batch = b == 0 ? 16 : b == 1 ? 64 : 256;
		for (size_t i = 0; i < sizeof(clients) / sizeof(clients[0]) - 1; i++)
			run(rq, clients[i], batch, true);
	}
	drain();
	um_relay_queue_stop(rq);
	um_http_server_free(server);
	um_relay_queue_free(rq);
	char path[sizeof(rc.queue_path) + 16];
	unlink(rc.queue_path);
	for (unsigned n = 1; n < 100000; n++) {
		snprintf(path, sizeof(path), "%s-%08u.log", rc.queue_path, n);
		if (unlink(path) < 0)
			break;
	}
	curl_global_cleanup();
	return 0;
}
