/* SPDX-License-Identifier: MIT */
/* Push for mailbox relays (mailbox_wait.h). */
#include "http/mailbox_wait.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <jansson.h>
#include <sodium.h>

#include "crypto/identity.h"
#include "util/clock.h"
#include "util/error.h"

/* Recent arrivals by the first two bytes of the recipient: a collision
 * only wakes a waiter for nothing (it fetches and finds none). */
#define ARRIVALS 4096

struct waiter {
	uint8_t peer_id[32];
	uint64_t deadline_ms;
	struct um_http_deferred *deferred;
};

struct um_mailbox_wait {
	uint64_t (*wall_ms)(void);
	pthread_mutex_t lock;
	pthread_cond_t wake;
	pthread_t thread;
	bool started, stopping;
	struct waiter waiters[UM_MAILBOX_WAITERS_MAX];
	size_t n;
	uint64_t arrived_ms[ARRIVALS];
};

static uint64_t default_wall_ms(void)
{
	return um_wall_ms();
}

static size_t slot_of(const uint8_t id[32])
{
	return ((size_t)id[0] << 8 | id[1]) % ARRIVALS;
}

void um_mailbox_wait_message(uint8_t out[UM_MAILBOX_WAIT_SIGNED_BYTES], const struct um_mailbox_wait_request *r)
{
	memcpy(out, r->peer_id, 32);
	for (int i = 0; i < 8; i++) {
		out[32 + i] = (uint8_t)(r->time_ms >> (56 - 8 * i));
		out[40 + i] = (uint8_t)(r->after_ms >> (56 - 8 * i));
	}
	for (int i = 0; i < 4; i++)
		out[48 + i] = (uint8_t)(r->wait_s >> (24 - 8 * i));
}

static int uint_member(const json_t *root, const char *key, uint64_t max, uint64_t *out)
{
	const json_t *v = json_object_get(root, key);

	if (!json_is_integer(v) || json_integer_value(v) < 0 || (uint64_t)json_integer_value(v) > max)
		return -UM_EINVAL;
	*out = (uint64_t)json_integer_value(v);
	return 0;
}

int um_mailbox_wait_parse(const char *body, size_t len, struct um_mailbox_wait_request *out, const char **error)
{
	static const char *const known[] = {"peer_id", "public_key", "time_ms", "after_ms", "wait", "signature"};
	json_t *root = body ? json_loadb(body, len, JSON_REJECT_DUPLICATES, NULL) : NULL;
	const char *key, *hex;
	size_t bin_len = 0;
	uint64_t wait = 0;
	json_t *v;
	int r = -UM_EINVAL;

	*error = "not a JSON object";
	if (!root || !json_is_object(root))
		goto out;
	json_object_foreach(root, key, v)
	{
		bool ok = false;
		for (size_t i = 0; i < sizeof(known) / sizeof(known[0]); i++)
			ok |= !strcmp(key, known[i]);
		if (!ok) {
			*error = "unknown member";
			goto out;
		}
	}
	*error = "peer_id: 64 hex digits";
	v = json_object_get(root, "peer_id");
	hex = json_is_string(v) ? json_string_value(v) : NULL;
	if (!hex || json_string_length(v) != 64 || sodium_hex2bin(out->peer_id, 32, hex, 64, NULL, &bin_len, NULL) ||
	    bin_len != 32)
		goto out;
	*error = "public_key: not a base64 hybrid public key";
	if (um_http_json_base64_exact(json_object_get(root, "public_key"), out->public_key, UM_HSIG_PK_BYTES))
		goto out;
	*error = "signature: not a base64 hybrid signature";
	if (um_http_json_base64_exact(json_object_get(root, "signature"), out->signature, UM_HSIG_BYTES))
		goto out;
	*error = "time_ms, after_ms: integers";
	if (uint_member(root, "time_ms", INT64_MAX, &out->time_ms) ||
	    uint_member(root, "after_ms", INT64_MAX, &out->after_ms))
		goto out;
	*error = "wait: 1 to 60 seconds";
	if (uint_member(root, "wait", UM_MAILBOX_WAIT_MAX_S, &wait) || wait == 0)
		goto out;
	out->wait_s = (uint32_t)wait;
	*error = NULL;
	r = 0;
out:
	json_decref(root);
	return r;
}

char *um_mailbox_wait_format(const struct um_mailbox_wait_request *r)
{
	size_t kl = sodium_base64_encoded_len(UM_HSIG_PK_BYTES, sodium_base64_VARIANT_ORIGINAL);
	size_t sl = sodium_base64_encoded_len(UM_HSIG_BYTES, sodium_base64_VARIANT_ORIGINAL);
	char hex[65], *pk = malloc(kl), *sig = malloc(sl), *text = NULL;
	size_t cap = kl + sl + 256;

	if (pk && sig && (text = malloc(cap))) {
		sodium_bin2hex(hex, sizeof(hex), r->peer_id, 32);
		sodium_bin2base64(pk, kl, r->public_key, UM_HSIG_PK_BYTES, sodium_base64_VARIANT_ORIGINAL);
		sodium_bin2base64(sig, sl, r->signature, UM_HSIG_BYTES, sodium_base64_VARIANT_ORIGINAL);
		snprintf(text, cap,
			 "{\"peer_id\":\"%s\",\"public_key\":\"%s\",\"time_ms\":%llu,\"after_ms\":%llu,\"wait\":%u,"
			 "\"signature\":\"%s\"}",
			 hex, pk, (unsigned long long)r->time_ms, (unsigned long long)r->after_ms, r->wait_s, sig);
	}
	free(pk);
	free(sig);
	return text;
}

int um_mailbox_wait_parse_answer(const char *body, size_t len, bool *arrived, uint64_t *now_ms)
{
	json_t *root = body ? json_loadb(body, len, JSON_REJECT_DUPLICATES, NULL) : NULL;
	const json_t *a = root ? json_object_get(root, "arrived") : NULL;
	int r = -UM_ETRUNC;

	if (json_is_boolean(a) && uint_member(root, "now_ms", INT64_MAX, now_ms) == 0) {
		*arrived = json_is_true(a);
		r = 0;
	}
	json_decref(root);
	return r;
}

/* ---- the waiters ---- */

static void answer(struct um_http_deferred *d, bool arrived, uint64_t now_ms)
{
	struct um_http_response resp = {.status = 200};
	char text[96];

	snprintf(text, sizeof(text), "{\"arrived\":%s,\"now_ms\":%llu}", arrived ? "true" : "false",
		 (unsigned long long)now_ms);
	resp.body = strdup(text);
	if (!resp.body) {
		um_http_response_error(&resp, 503, "out of memory");
	} else {
		resp.body_len = strlen(resp.body);
	}
	um_http_deferred_finish(d, &resp);
}

/* Takes waiter i out (the lock held): its token. */
static struct um_http_deferred *take(struct um_mailbox_wait *w, size_t i)
{
	struct um_http_deferred *d = w->waiters[i].deferred;

	w->waiters[i] = w->waiters[--w->n];
	return d;
}

void um_mailbox_wait_arrived(struct um_mailbox_wait *w, const uint8_t recipient[32])
{
	struct um_http_deferred *woken[64];
	size_t n_woken = 0;
	uint64_t now;

	if (!w)
		return;
	now = w->wall_ms();
	pthread_mutex_lock(&w->lock);
	w->arrived_ms[slot_of(recipient)] = now;
	for (size_t i = 0; i < w->n && n_woken < 64;)
		if (!memcmp(w->waiters[i].peer_id, recipient, 32))
			woken[n_woken++] = take(w, i);
		else
			i++;
	pthread_mutex_unlock(&w->lock);
	/* Answered outside the lock: finishing resumes a connection. */
	for (size_t i = 0; i < n_woken; i++)
		answer(woken[i], true, now);
}

static void handle_wait(void *ctx, const struct um_http_request *req, struct um_http_response *resp)
{
	struct um_mailbox_wait *w = ctx;
	struct um_mailbox_wait_request r;
	uint8_t msg[UM_MAILBOX_WAIT_SIGNED_BYTES];
	struct um_peer_id id;
	const char *error = NULL;
	uint64_t now = w->wall_ms();

	if (um_mailbox_wait_parse((const char *)req->body, req->body_len, &r, &error)) {
		um_http_response_error(resp, 400, error);
		return;
	}
	um_peer_id_from_public_key(&id, r.public_key);
	um_mailbox_wait_message(msg, &r);
	if (memcmp(id.bytes, r.peer_id, 32) ||
	    (r.time_ms > now ? r.time_ms - now : now - r.time_ms) > UM_MAILBOX_WAIT_SKEW_MS ||
	    um_hsig_verify(r.signature, msg, sizeof(msg), UM_MAILBOX_WAIT_CONTEXT, r.public_key)) {
		um_http_response_error(resp, 403, "not signed by the recipient, or the time is off");
		return;
	}
	pthread_mutex_lock(&w->lock);
	if (w->arrived_ms[slot_of(r.peer_id)] > r.after_ms) {
		pthread_mutex_unlock(&w->lock);
		char text[96];
		snprintf(text, sizeof(text), "{\"arrived\":true,\"now_ms\":%llu}", (unsigned long long)now);
		resp->status = 200;
		resp->body = strdup(text);
		resp->body_len = resp->body ? strlen(resp->body) : 0;
		if (!resp->body)
			um_http_response_error(resp, 503, "out of memory");
		return;
	}
	struct um_http_deferred *d = NULL;
	if (w->stopping || w->n == UM_MAILBOX_WAITERS_MAX || !(d = um_http_response_defer(resp))) {
		pthread_mutex_unlock(&w->lock);
		um_http_response_error(resp, 503, w->stopping ? "stopping" : "too many waiters");
		return;
	}
	w->waiters[w->n++] = (struct waiter){.deadline_ms = now + r.wait_s * 1000ULL, .deferred = d};
	memcpy(w->waiters[w->n - 1].peer_id, r.peer_id, 32);
	pthread_cond_signal(&w->wake);
	pthread_mutex_unlock(&w->lock);
}

/* Answers the waits whose time ran out. */
static void *timer_main(void *arg)
{
	struct um_mailbox_wait *w = arg;

	pthread_mutex_lock(&w->lock);
	while (!w->stopping) {
		uint64_t now = w->wall_ms(), next = now + 1000;
		for (size_t i = 0; i < w->n;) {
			if (w->waiters[i].deadline_ms <= now) {
				struct um_http_deferred *d = take(w, i);
				pthread_mutex_unlock(&w->lock);
				answer(d, false, now);
				pthread_mutex_lock(&w->lock);
				i = 0; /* the list may have changed meanwhile */
				continue;
			}
			if (w->waiters[i].deadline_ms < next)
				next = w->waiters[i].deadline_ms;
			i++;
		}
		/* Real time (a test's fake wall clock moves by itself too: at most
		 * 1 s between looks). */
		struct timespec ts;
		uint64_t sleep_ms = next > now ? next - now : 1;
		clock_gettime(CLOCK_REALTIME, &ts);
		ts.tv_sec += (time_t)(sleep_ms / 1000);
		ts.tv_nsec += (long)(sleep_ms % 1000) * 1000000L;
		if (ts.tv_nsec >= 1000000000L) {
			ts.tv_sec++;
			ts.tv_nsec -= 1000000000L;
		}
		pthread_cond_timedwait(&w->wake, &w->lock, &ts);
	}
	pthread_mutex_unlock(&w->lock);
	return NULL;
}

int um_mailbox_wait_create(struct um_mailbox_wait **out, uint64_t (*wall_ms)(void))
{
	struct um_mailbox_wait *w = calloc(1, sizeof(*w));
	int r;

	*out = NULL;
	if (!w)
		return -UM_ENOMEM;
	w->wall_ms = wall_ms ? wall_ms : default_wall_ms;
	pthread_mutex_init(&w->lock, NULL);
	pthread_cond_init(&w->wake, NULL);
	r = -pthread_create(&w->thread, NULL, timer_main, w);
	if (r) {
		pthread_mutex_destroy(&w->lock);
		pthread_cond_destroy(&w->wake);
		free(w);
		return r;
	}
	w->started = true;
	pthread_setname_np(w->thread, "umbra-mbox-wait");
	*out = w;
	return 0;
}

int um_mailbox_wait_attach(struct um_http_server *server, struct um_mailbox_wait *w)
{
	return um_http_server_route(server, "POST", UM_MAILBOX_WAIT_PATH, false, handle_wait, w);
}

void um_mailbox_wait_stop(struct um_mailbox_wait *w)
{
	if (!w)
		return;
	pthread_mutex_lock(&w->lock);
	w->stopping = true;
	pthread_cond_signal(&w->wake);
	while (w->n) {
		struct um_http_deferred *d = take(w, 0);
		pthread_mutex_unlock(&w->lock);
		answer(d, false, w->wall_ms());
		pthread_mutex_lock(&w->lock);
	}
	pthread_mutex_unlock(&w->lock);
	if (w->started) {
		pthread_join(w->thread, NULL);
		w->started = false;
	}
}

void um_mailbox_wait_free(struct um_mailbox_wait *w)
{
	if (!w)
		return;
	um_mailbox_wait_stop(w);
	pthread_mutex_destroy(&w->lock);
	pthread_cond_destroy(&w->wake);
	free(w);
}
