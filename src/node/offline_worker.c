/* SPDX-License-Identifier: MIT */
/* The store-and-forward worker (offline_worker.h). */
#include "node/offline_worker.h"

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <sodium.h>

#include "msg/envelope.h"
#include "msg/mailbox_record.h"
#include "msg/prekey.h"
#include "util/clock.h"
#include "util/error.h"
#include "util/log.h"

enum {
	BUNDLE_CACHE = 64, /* peers whose bundles are kept */
	KEY_CACHE = 64,    /* senders whose public keys are kept (ring's worker) */
};
/* A cached bundle is fetched again this long before it expires. */
#define BUNDLE_MARGIN_MS (10ULL * 60 * 1000)

struct bundle_entry {
	uint8_t peer[32];
	struct um_prekey_public pub;
	bool valid;
};

struct key_entry {
	uint8_t peer[32];
	uint8_t pk[UM_HSIG_PK_BYTES];
	bool valid;
};

struct um_offline_worker {
	pthread_t thread;
	bool started;
	pthread_mutex_t lock;
	pthread_cond_t wake;
	struct um_offline_job *todo_head, *todo_tail, *done_head, *done_tail;
	_Atomic bool stop; /* also read by a running job: it ends early */
	int fd;
	struct um_offline_worker_config config;
	/* The worker thread's alone: */
	struct um_prekey_ring *ring;
	bool ring_loaded;
	struct bundle_entry cache[BUNDLE_CACHE];
	size_t cache_next;
	uint8_t *plain;         /* UM_ENVELOPE_SIZE_MAX: an opened envelope */
	struct key_entry *keys; /* KEY_CACHE: senders' keys (envelopes may omit them) */
	size_t keys_next;
	/* SEND: a client kept per mailbox, so its connection and the challenge
	 * each put answer carries serve the next put (one round trip less). */
	struct um_queue_client puts[UM_OFFLINE_MAILBOXES];
	char put_urls[UM_OFFLINE_MAILBOXES][UM_QUEUE_CLIENT_URL_MAX];
	bool put_open[UM_OFFLINE_MAILBOXES];
	unsigned put_next;
};

static uint64_t wall(const struct um_offline_worker *w)
{
	return w->config.wall_ms ? w->config.wall_ms() : um_wall_ms();
}

struct um_offline_job *um_offline_job_new(enum um_offline_job_kind kind)
{
	struct um_offline_job *job = calloc(1, sizeof(*job));

	if (job)
		job->kind = kind;
	return job;
}

void um_offline_job_free(struct um_offline_job *job)
{
	if (!job)
		return;
	for (size_t i = 0; i < job->n_items; i++) {
		if (job->items[i].payload)
			sodium_memzero(job->items[i].payload, job->items[i].len);
		free(job->items[i].payload);
	}
	for (size_t i = 0; i < job->n_fetched; i++) {
		if (job->fetched[i].payload)
			sodium_memzero(job->fetched[i].payload, job->fetched[i].len);
		free(job->fetched[i].payload);
	}
	free(job->fetched);
	free(job->ids);
	for (size_t i = 0; i < job->n_records; i++)
		free(job->records[i]);
	free(job->record);
	free(job);
}

static int client_open(struct um_offline_worker *w, struct um_queue_client *c, const char *url)
{
	int r = um_queue_client_init(c, url);

	if (r)
		return r;
	if (w->config.has_admission_key) {
		memcpy(c->admission_key, w->config.admission_key, 32);
		c->has_admission_key = true;
	}
	if (w->config.ca_file[0])
		c->http.ca_file = w->config.ca_file;
	return 0;
}

/* The kept client for url (opened, or an older one replaced), NULL when
 * it cannot be opened. */
static struct um_queue_client *put_client(struct um_offline_worker *w, const char *url)
{
	unsigned i;

	for (i = 0; i < UM_OFFLINE_MAILBOXES; i++)
		if (w->put_open[i] && !strcmp(w->put_urls[i], url))
			return &w->puts[i];
	i = w->put_next;
	w->put_next = (w->put_next + 1) % UM_OFFLINE_MAILBOXES;
	if (w->put_open[i])
		um_queue_client_close(&w->puts[i]);
	w->put_open[i] = client_open(w, &w->puts[i], url) == 0;
	if (!w->put_open[i])
		return NULL;
	snprintf(w->put_urls[i], sizeof(w->put_urls[i]), "%s", url);
	return &w->puts[i];
}

/* ---- PREKEYS ---- */

static void run_prekeys(struct um_offline_worker *w, struct um_offline_job *job)
{
	uint8_t bundle[UM_PREKEY_BUNDLE_BYTES];
	size_t len = 0;
	int r;

	if (!w->config.ring_path[0]) {
		job->result = -UM_ESTATE; /* not the ring's worker */
		return;
	}
	if (!w->ring_loaded) {
		r = um_prekey_ring_load(w->ring, w->config.ring_path);
		if (r && r != -ENOENT)
			um_log_warn("prekey ring %s: %s (a new one is made)", w->config.ring_path, um_strerror(r));
		w->ring_loaded = true;
	}
	r = um_prekey_ring_rotate(w->ring, w->config.identity, wall(w),
				  w->config.lifetime_ms ? w->config.lifetime_ms : UM_PREKEY_LIFETIME_DEFAULT,
				  w->config.retention_ms ? w->config.retention_ms : UM_PREKEY_RETENTION_DEFAULT);
	if (r < 0) {
		job->result = r;
		return;
	}
	if (r == 1)
		job->prekey_changed = true;
	if (um_prekey_ring_unsaved(w->ring)) {
		/* Saved before anything is published: no envelope can be sealed
		 * to a prekey whose secret a crash would lose. */
		r = um_prekey_ring_save(w->ring, w->config.ring_path);
		if (r) {
			um_log_error("prekey ring %s: %s", w->config.ring_path, um_strerror(r));
			job->result = r;
			return;
		}
	}
	r = um_prekey_ring_public(w->ring, bundle, sizeof(bundle), &len);
	if (r) {
		job->result = r;
		return;
	}
	if (job->want_record && (job->prekey_changed || !job->record_built)) {
		/* The DHT's mailbox record: our URLs and this prekey. */
		const char *urls[UM_OFFLINE_MAILBOXES];
		for (size_t i = 0; i < job->n_urls; i++)
			urls[i] = job->urls[i];
		job->record = malloc(UM_MAILBOX_RECORD_MAX);
		r = job->record ? um_mailbox_record_build(job->record, UM_MAILBOX_RECORD_MAX, &job->record_len,
							  w->config.identity, bundle, len, (const char *const *)urls,
							  job->n_urls, wall(w))
				: -UM_ENOMEM;
		if (r) {
			um_log_warn("mailbox record: %s", um_strerror(r));
			free(job->record);
			job->record = NULL;
		}
	}
	for (size_t i = 0; i < job->n_urls; i++) {
		struct um_queue_client c;
		/* Every time (every 10 minutes; the same bundle again is
		 * idempotent): a mailbox that lost its database has it back. */
		r = client_open(w, &c, job->urls[i]);
		if (r == 0)
			r = um_queue_client_prekey_put(&c, bundle, w->config.identity->public_key);
		um_queue_client_close(&c);
		if (r) {
			um_log_warn("prekey not published at %s: %s", job->urls[i], um_strerror(r));
			job->result = r;
			continue;
		}
		job->relays_ok++;
	}
}

/* ---- SEND ---- */

/* The peer's bundle: cached, else fetched from the job's mailboxes and
 * verified (its key must hash to the peer's ID). */
static const struct um_prekey_public *peer_bundle(struct um_offline_worker *w, struct um_offline_job *job)
{
	uint8_t bundle[UM_PREKEY_BUNDLE_BYTES], pk[UM_HSIG_PK_BYTES];
	uint64_t now = wall(w);
	struct bundle_entry *slot = NULL;

	for (size_t i = 0; i < BUNDLE_CACHE; i++) {
		struct bundle_entry *e = &w->cache[i];
		if (e->valid && !memcmp(e->peer, job->peer_id, 32)) {
			if (e->pub.expires_ms > now + BUNDLE_MARGIN_MS)
				return &e->pub;
			e->valid = false;
			slot = e;
		}
	}
	for (size_t i = 0; i < job->n_urls; i++) {
		struct um_queue_client c;
		struct um_prekey_public pub;
		int r = client_open(w, &c, job->urls[i]);
		if (r == 0)
			r = um_queue_client_prekey_get(&c, job->peer_id, bundle, pk);
		um_queue_client_close(&c);
		if (r == 0)
			r = um_prekey_bundle_verify(bundle, sizeof(bundle), pk, now, &pub);
		if (r == 0 && memcmp(pub.owner, job->peer_id, 32))
			r = -UM_EBADMSG; /* a valid bundle of someone else */
		if (r) {
			um_log_debug("prekey of a peer from %s: %s", job->urls[i], um_strerror(r));
			continue;
		}
		if (!slot) {
			slot = &w->cache[w->cache_next];
			w->cache_next = (w->cache_next + 1) % BUNDLE_CACHE;
		}
		memcpy(slot->peer, job->peer_id, 32);
		slot->pub = pub;
		slot->valid = true;
		return &slot->pub;
	}
	return NULL;
}

static void key_keep(struct um_offline_worker *w, const uint8_t peer[32], const uint8_t *pk);

/* The peer's key: cached, else served by a mailbox a candidate record
 * names (not trusted: the key must hash to the peer's ID). */
static int record_key(struct um_offline_worker *w, const struct um_offline_job *job, uint8_t pk[UM_HSIG_PK_BYTES])
{
	uint8_t bundle[UM_PREKEY_BUNDLE_BYTES], key[32];
	struct um_mailbox_record m;
	struct um_peer_id id;

	for (size_t i = 0; i < KEY_CACHE; i++) {
		if (w->keys[i].valid && !memcmp(w->keys[i].peer, job->peer_id, 32)) {
			memcpy(pk, w->keys[i].pk, UM_HSIG_PK_BYTES);
			return 0;
		}
	}
	um_mailbox_record_key(job->peer_id, key);
	for (size_t i = 0; i < job->n_records; i++) {
		if (um_mailbox_record_check(key, job->records[i], job->records_len[i], wall(w), &m))
			continue;
		for (unsigned u = 0; u < m.n_urls; u++) {
			struct um_queue_client c;
			int r = client_open(w, &c, m.urls[u]);
			if (r == 0)
				r = um_queue_client_prekey_get(&c, job->peer_id, bundle, pk);
			um_queue_client_close(&c);
			if (r)
				continue;
			um_peer_id_from_public_key(&id, pk);
			if (memcmp(id.bytes, job->peer_id, 32))
				continue;
			key_keep(w, job->peer_id, pk);
			return 0;
		}
	}
	return -UM_ENOTFOUND;
}

/* The first candidate record that verifies: its URLs become the job's,
 * its prekey *to. */
static int record_pick(struct um_offline_worker *w, struct um_offline_job *job, struct um_prekey_public *to)
{
	uint8_t pk[UM_HSIG_PK_BYTES];
	struct um_mailbox_record m;
	int r = record_key(w, job, pk);

	for (size_t i = 0; r == 0 && i < job->n_records; i++) {
		r = um_mailbox_record_verify(job->records[i], job->records_len[i], pk, wall(w), &m);
		if (r) {
			um_log_debug("mailbox record %zu of a peer: %s", i, um_strerror(r));
			r = 0;
			continue;
		}
		job->n_urls = m.n_urls < UM_OFFLINE_MAILBOXES ? m.n_urls : UM_OFFLINE_MAILBOXES;
		for (size_t u = 0; u < job->n_urls; u++)
			snprintf(job->urls[u], sizeof(job->urls[u]), "%s", m.urls[u]);
		*to = m.prekey;
		return 0;
	}
	return r ? r : -UM_EBADMSG;
}

static void run_send(struct um_offline_worker *w, struct um_offline_job *job)
{
	struct um_prekey_public from_record;
	const struct um_prekey_public *to;

	if (job->n_records) {
		int picked = record_pick(w, job, &from_record);
		if (picked)
			um_log_warn("mailbox record of a peer: %s", um_strerror(picked));
		to = picked ? NULL : &from_record;
	} else {
		to = peer_bundle(w, job);
	}
	const uint8_t *env[UM_OFFLINE_BATCH];
	size_t lens[UM_OFFLINE_BATCH], n = 0;
	size_t idx[UM_OFFLINE_BATCH];
	int results[UM_OFFLINE_BATCH];
	uint8_t *buf = NULL;
	int r;

	if (!to) {
		job->result = -UM_ENOKEY;
		for (size_t i = 0; i < job->n_items; i++)
			job->items[i].error = -UM_ENOKEY;
		return;
	}
	/* Each envelope in its own slot of the largest size: a batch of 64
	 * is at most 6 MiB for the job's life. */
	buf = malloc((size_t)UM_OFFLINE_BATCH * UM_ENVELOPE_SIZE_MAX);
	if (!buf) {
		job->result = -UM_ENOMEM;
		return;
	}
	for (size_t i = 0; i < job->n_items; i++) {
		struct um_offline_item *it = &job->items[i];
		uint8_t id[UM_ENVELOPE_ID_BYTES];
		uint8_t *out = buf + n * (size_t)UM_ENVELOPE_SIZE_MAX;
		size_t len = 0;
		randombytes_buf(id, sizeof(id)); /* one ID, the same on both mailboxes */
		r = um_envelope_seal(w->config.identity, to, id, wall(w), it->content_type, it->payload, it->len,
				     job->include_pk, out, UM_ENVELOPE_SIZE_MAX, &len);
		if (r) {
			it->error = r;
			if (r == -UM_EREPLAY) /* expired since cached */
				memset(w->cache, 0, sizeof(w->cache));
			continue;
		}
		env[n] = out;
		lens[n] = len;
		idx[n] = i;
		n++;
	}
	for (size_t u = 0; u < job->n_urls && n; u++) {
		struct um_queue_client *c = put_client(w, job->urls[u]);
		r = c ? um_queue_client_put(c, env, lens, n, results) : -UM_EINVAL;
		if (r) {
			um_log_warn("mailbox %s: %zu envelopes not queued: %s", job->urls[u], n, um_strerror(r));
			job->result = r;
			continue;
		}
		job->relays_ok++;
		for (size_t k = 0; k < n; k++) {
			if (results[k] == 0)
				job->items[idx[k]].acked++;
			else
				job->items[idx[k]].error = results[k];
		}
	}
	sodium_memzero(buf, n * (size_t)UM_ENVELOPE_SIZE_MAX);
	free(buf);
}

/* ---- FETCH, DELETE ---- */

struct fetch_walk {
	struct um_offline_worker *w;
	struct um_offline_job *job;
	unsigned url;
};

static void key_keep(struct um_offline_worker *w, const uint8_t peer[32], const uint8_t *pk)
{
	struct key_entry *slot = NULL;

	for (size_t i = 0; i < KEY_CACHE && !slot; i++)
		if (w->keys[i].valid && !memcmp(w->keys[i].peer, peer, 32))
			slot = &w->keys[i];
	if (!slot) {
		slot = &w->keys[w->keys_next];
		w->keys_next = (w->keys_next + 1) % KEY_CACHE;
	}
	memcpy(slot->peer, peer, 32);
	memcpy(slot->pk, pk, UM_HSIG_PK_BYTES);
	slot->valid = true;
}

/* The envelope's lookup: a sender's key from the cache, else from where
 * the sender published its prekey (the mailbox the envelope came from
 * first, then our others), checked against its peer ID. */
static int key_find(void *ctx, const uint8_t peer_id[32], uint8_t pk[UM_HSIG_PK_BYTES])
{
	struct fetch_walk *fw = ctx;
	struct um_offline_worker *w = fw->w;
	uint8_t bundle[UM_PREKEY_BUNDLE_BYTES];
	struct um_peer_id id;

	for (size_t i = 0; i < KEY_CACHE; i++) {
		if (w->keys[i].valid && !memcmp(w->keys[i].peer, peer_id, 32)) {
			memcpy(pk, w->keys[i].pk, UM_HSIG_PK_BYTES);
			return 0;
		}
	}
	for (size_t k = 0; k < fw->job->n_urls; k++) {
		size_t u = (fw->url + k) % fw->job->n_urls;
		struct um_queue_client c;
		int r = client_open(w, &c, fw->job->urls[u]);
		if (r == 0)
			r = um_queue_client_prekey_get(&c, peer_id, bundle, pk);
		um_queue_client_close(&c);
		if (r)
			continue;
		um_peer_id_from_public_key(&id, pk);
		if (memcmp(id.bytes, peer_id, 32))
			continue; /* not its key */
		key_keep(w, peer_id, pk);
		return 0;
	}
	return -UM_ENOTFOUND;
}

static int fetch_one(void *ctx, const uint8_t id[16], uint64_t arrival_ms, const uint8_t *envelope, size_t len)
{
	struct fetch_walk *fw = ctx;
	struct um_offline_job *job = fw->job;
	struct um_envelope_opened o = {.buf = fw->w->plain, .cap = UM_ENVELOPE_SIZE_MAX};
	struct um_offline_fetched *f;
	(void)arrival_ms;

	if (job->n_fetched == job->cap_fetched) {
		size_t cap = job->cap_fetched ? job->cap_fetched * 2 : 32;
		struct um_offline_fetched *grown = realloc(job->fetched, cap * sizeof(*grown));
		if (!grown)
			return -UM_ENOMEM;
		job->fetched = grown;
		job->cap_fetched = cap;
	}
	f = &job->fetched[job->n_fetched];
	memset(f, 0, sizeof(*f));
	f->url = fw->url;
	memcpy(f->envelope_id, id, 16);
	struct um_envelope_key_lookup lookup = {.find = key_find, .ctx = fw};
	f->open_result = um_envelope_open(fw->w->ring, fw->w->config.identity->id.bytes, envelope, len, &lookup, &o);
	if (f->open_result == 0) {
		if (o.sender_pk)
			key_keep(fw->w, o.sender, o.sender_pk);
		memcpy(f->sender, o.sender, 32);
		f->content_type = o.content_type;
		f->sent_ms = o.sent_ms;
		f->payload = malloc(o.len ? o.len : 1);
		if (!f->payload) {
			sodium_memzero(o.buf, len);
			return -UM_ENOMEM;
		}
		memcpy(f->payload, o.payload, o.len);
		f->len = o.len;
		sodium_memzero(o.buf, len);
	}
	job->n_fetched++;
	return 0;
}

static void run_fetch(struct um_offline_worker *w, struct um_offline_job *job)
{
	for (size_t u = 0; u < job->n_urls && !w->stop; u++) {
		struct um_queue_client c;
		struct fetch_walk fw = {w, job, (unsigned)u};
		int r = client_open(w, &c, job->urls[u]);
		if (r == 0)
			r = um_queue_client_pending(&c, w->config.identity, 0, fetch_one, &fw);
		um_queue_client_close(&c);
		if (r) {
			um_log_debug("mailbox %s: %s", job->urls[u], um_strerror(r));
			job->result = r;
			continue;
		}
		job->relays_ok++;
	}
}

static void run_delete(struct um_offline_worker *w, struct um_offline_job *job)
{
	struct um_queue_client c;
	int r = client_open(w, &c, job->urls[0]);
	size_t i = 0;

	/* Batches of UM_QUEUE_API_DELETE_MAX, one signature each; a relay
	 * without the batch route gets one request per envelope. */
	while (r == 0 && i < job->n_ids && !w->stop) {
		size_t n = job->n_ids - i < UM_QUEUE_API_DELETE_MAX ? job->n_ids - i : UM_QUEUE_API_DELETE_MAX;
		int d =
		    um_queue_client_delete_many(&c, w->config.identity, (const uint8_t(*)[16])(job->ids + i), n, NULL);
		if (d == -UM_ENOTFOUND || d == -UM_EINVAL)
			break;
		if (d) {
			um_log_warn("mailbox %s: delete: %s", job->urls[0], um_strerror(d));
			job->result = d;
		}
		i += n;
	}
	for (; r == 0 && i < job->n_ids && !w->stop; i++) {
		int d = um_queue_client_delete(&c, w->config.identity, job->ids[i]);
		if (d && d != -UM_ENOTFOUND) {
			um_log_warn("mailbox %s: delete: %s", job->urls[0], um_strerror(d));
			job->result = d;
		}
	}
	um_queue_client_close(&c);
	if (r)
		job->result = r;
}

/* ---- the thread ---- */

static void *worker_main(void *arg)
{
	struct um_offline_worker *w = arg;
	const uint64_t one = 1;

	pthread_mutex_lock(&w->lock);
	for (;;) {
		while (!w->stop && !w->todo_head)
			pthread_cond_wait(&w->wake, &w->lock);
		if (w->stop)
			break;
		struct um_offline_job *job = w->todo_head;
		w->todo_head = job->next;
		if (!w->todo_head)
			w->todo_tail = NULL;
		job->next = NULL;
		pthread_mutex_unlock(&w->lock);
		switch (job->kind) {
		case UM_OFFLINE_JOB_PREKEYS:
			run_prekeys(w, job);
			break;
		case UM_OFFLINE_JOB_SEND:
			run_send(w, job);
			break;
		case UM_OFFLINE_JOB_FETCH:
			run_fetch(w, job);
			break;
		case UM_OFFLINE_JOB_DELETE:
			run_delete(w, job);
			break;
		}
		pthread_mutex_lock(&w->lock);
		if (w->done_tail)
			w->done_tail->next = job;
		else
			w->done_head = job;
		w->done_tail = job;
		if (write(w->fd, &one, sizeof(one)) < 0 && errno != EAGAIN)
			break;
	}
	pthread_mutex_unlock(&w->lock);
	return NULL;
}

int um_offline_worker_new(struct um_offline_worker **out, const struct um_offline_worker_config *config)
{
	struct um_offline_worker *w = calloc(1, sizeof(*w));
	int r = -UM_ENOMEM;

	*out = NULL;
	if (!w)
		return -UM_ENOMEM;
	w->fd = -1;
	w->config = *config;
	pthread_mutex_init(&w->lock, NULL);
	pthread_cond_init(&w->wake, NULL);
	w->plain = malloc(UM_ENVELOPE_SIZE_MAX);
	w->keys = calloc(KEY_CACHE, sizeof(*w->keys));
	if (!w->plain || !w->keys || um_prekey_ring_new(&w->ring))
		goto err;
	w->fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	if (w->fd < 0) {
		r = -errno;
		goto err;
	}
	r = -pthread_create(&w->thread, NULL, worker_main, w);
	if (r)
		goto err;
	w->started = true;
	pthread_setname_np(w->thread, "umbra-offline");
	*out = w;
	return 0;
err:
	um_offline_worker_free(w);
	return r;
}

static void free_list(struct um_offline_job *job)
{
	while (job) {
		struct um_offline_job *next = job->next;
		um_offline_job_free(job);
		job = next;
	}
}

void um_offline_worker_free(struct um_offline_worker *w)
{
	if (!w)
		return;
	if (w->started) {
		pthread_mutex_lock(&w->lock);
		w->stop = true;
		pthread_cond_signal(&w->wake);
		pthread_mutex_unlock(&w->lock);
		pthread_join(w->thread, NULL);
	}
	free_list(w->todo_head);
	free_list(w->done_head);
	if (w->fd >= 0)
		close(w->fd);
	um_prekey_ring_free(w->ring);
	if (w->plain)
		sodium_memzero(w->plain, UM_ENVELOPE_SIZE_MAX);
	free(w->plain);
	free(w->keys);
	for (unsigned i = 0; i < UM_OFFLINE_MAILBOXES; i++)
		if (w->put_open[i])
			um_queue_client_close(&w->puts[i]);
	sodium_memzero(w->config.admission_key, sizeof(w->config.admission_key));
	pthread_mutex_destroy(&w->lock);
	pthread_cond_destroy(&w->wake);
	free(w);
}

int um_offline_worker_fd(const struct um_offline_worker *w)
{
	return w->fd;
}

void um_offline_worker_submit(struct um_offline_worker *w, struct um_offline_job *job)
{
	job->next = NULL;
	pthread_mutex_lock(&w->lock);
	if (w->todo_tail)
		w->todo_tail->next = job;
	else
		w->todo_head = job;
	w->todo_tail = job;
	pthread_cond_signal(&w->wake);
	pthread_mutex_unlock(&w->lock);
}

struct um_offline_job *um_offline_worker_take(struct um_offline_worker *w)
{
	uint64_t count;
	struct um_offline_job *job;

	if (read(w->fd, &count, sizeof(count)) < 0 && errno != EAGAIN)
		um_log_debug("offline worker eventfd: %s", strerror(errno));
	pthread_mutex_lock(&w->lock);
	job = w->done_head;
	if (job) {
		w->done_head = job->next;
		if (!w->done_head)
			w->done_tail = NULL;
		job->next = NULL;
	}
	pthread_mutex_unlock(&w->lock);
	return job;
}
