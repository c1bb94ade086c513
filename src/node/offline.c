/* SPDX-License-Identifier: MIT */
/* Store-and-forward on the node (offline.h): the control thread's half.
 * The worker (offline_worker.c) does the HTTP, sealing and opening; this
 * file runs the ladder, builds the jobs and applies their results to the
 * store. */
#include "node/offline.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>

#include <sodium.h>

#include "msg/envelope.h"
#include "msg/ladder.h"
#include "node/dht.h"
#include "node/offline_dht.h"
#include "node/offline_wait.h"
#include "node/offline_worker.h"
#include "node/uplink.h"
#include "util/clock.h"
#include "util/error.h"
#include "util/log.h"

#define TICK_NS          UM_NSEC_PER_SEC
#define PREKEYS_EVERY_NS (600ULL * UM_NSEC_PER_SEC) /* rotation is due at most daily; publishing retried */
#define PREKEYS_RETRY_NS (30ULL * UM_NSEC_PER_SEC)
#define RETRY_MIN_NS     (2ULL * UM_NSEC_PER_SEC)
#define RETRY_MAX_NS     (300ULL * UM_NSEC_PER_SEC)

struct off_peer {
	uint64_t no_session_since; /* monotonic ns */
	bool was_live;
	bool data_inflight; /* a SEND job of its messages is out */
	uint64_t retry_at, retry_ns;
	uint64_t next_check; /* when the ladder runs for it again (0: next tick) */
	/* Receipts made while its mailboxes are looked up in the DHT (no URL
	 * yet): sent once the lookup answers (owned; NULL: none). */
	struct um_offline_job *held;
};

struct um_node_offline {
	struct um_node_messaging *ms;
	/* Two workers (offline_worker.h), so that a message never waits behind
	 * a poll of our mailboxes: the ring's (prekeys, fetch, delete) and the
	 * sender's (seal and queue). */
	struct um_offline_worker *worker, *sender; /* owned */
	struct um_watch watch, sender_watch;       /* their eventfds */
	/* Push: a wait open at each mailbox of ours (offline_wait.h). */
	struct um_offline_waiter *waiters[UM_OFFLINE_MAILBOXES]; /* owned */
	struct um_watch waiter_watch[UM_OFFLINE_MAILBOXES];
	struct um_timer timer;
	char urls[UM_OFFLINE_MAILBOXES][UM_QUEUE_CLIENT_URL_MAX]; /* ours */
	size_t n_urls;
	struct off_peer *peers;     /* owned; ms->peers' indexes */
	struct um_offline_dht *dht; /* owned; NULL: the node runs no DHT */
	bool record_built;          /* our mailbox record handed to the DHT */
	bool fetch_inflight, prekeys_inflight;
	unsigned prekey_published; /* mailboxes that had our bundle at the last try */
	uint64_t next_fetch, next_prekeys;
	uint64_t queue_after_ns, poll_ns;
};

/* "URL[, URL]" into urls (at most UM_OFFLINE_MAILBOXES): how many. */
static size_t parse_urls(const char *text, char urls[][UM_QUEUE_CLIENT_URL_MAX])
{
	size_t n = 0;

	while (text && *text && n < UM_OFFLINE_MAILBOXES) {
		text += strspn(text, " \t,");
		size_t len = strcspn(text, ",");
		while (len && (text[len - 1] == ' ' || text[len - 1] == '\t'))
			len--;
		if (len && len < UM_QUEUE_CLIENT_URL_MAX) {
			memcpy(urls[n], text, len);
			urls[n][len] = '\0';
			n++;
		}
		text += len;
		text += strcspn(text, ",");
	}
	return n;
}

/* The peer's mailboxes into job->urls: its own, else those of its
 * mailbox record in the DHT (offline_dht.h: none while the first lookup
 * runs), else ours (a network sharing relays). */
static bool peer_urls(struct um_node_offline *off, const struct msg_peer *mp, struct um_offline_job *job)
{
	if (!mp->peer->config->mailbox[0]) {
		int r = um_offline_dht_fill(off->dht, (size_t)(mp - off->ms->peers), mp->peer->config->id.bytes, job);
		if (r >= 0)
			return r == 0; /* 0: waiting for the DHT */
		for (size_t i = 0; i < job->n_records; i++)
			free(job->records[i]);
		job->n_records = 0;
	}
	/* Our key goes in its envelopes unless they go to our own mailboxes,
	 * where our prekey (and key) is published: the recipient fetches it
	 * there, and a short message's envelope fits the 8 KiB bucket instead
	 * of 16 KiB. */
	job->n_urls = parse_urls(mp->peer->config->mailbox, job->urls);
	job->include_pk = job->n_urls > 0;
	if (job->n_urls)
		return false;
	memcpy(job->urls, off->urls, sizeof(off->urls));
	job->n_urls = off->n_urls;
	return false;
}

uint8_t um_node_offline_rung(const struct um_node_peer *peer)
{
	if (!peer->via_relay)
		return UM_STORE_VIA_DIRECT;
	return um_uplink_peer_tls(peer->node, peer) ? UM_STORE_VIA_RELAY_TCP : UM_STORE_VIA_RELAY;
}

bool um_node_offline_live(const struct msg_peer *mp)
{
	return mp->messenger && mp->peer->index_current != 0 && mp->peer->node->up;
}

static void submit(struct um_node_offline *off, struct um_offline_job *job)
{
	um_offline_worker_submit(job->kind == UM_OFFLINE_JOB_SEND ? off->sender : off->worker, job);
}

static void rearm(struct um_node_offline *off, uint64_t at)
{
	um_timer_arm_at(off->ms->node->loop, &off->timer, at);
}

/* ---- sending ---- */

struct ladder_walk {
	struct um_node_offline *off;
	struct um_ladder_peer peer;
	struct um_offline_job *job;
	uint64_t now, now_wall_ms, next;
	bool full;
};

static int ladder_one(void *ctx, const struct um_store_message *m)
{
	struct ladder_walk *lw = ctx;
	uint64_t age_ns, deadline = UINT64_MAX, stored_at;

	if (m->via == UM_STORE_VIA_QUEUE)
		return 0; /* on the mailboxes already */
	age_ns = lw->now_wall_ms > m->sent_ms ? (lw->now_wall_ms - m->sent_ms) * UM_NSEC_PER_MSEC : 0;
	stored_at = age_ns < lw->now ? lw->now - age_ns : 0;
	if (um_ladder_decide(&lw->peer, lw->off->queue_after_ns, stored_at, lw->now, &deadline) != UM_LADDER_ENQUEUE) {
		if (deadline < lw->next)
			lw->next = deadline;
		return 0;
	}
	if (lw->job->n_items == UM_OFFLINE_BATCH) {
		lw->full = true;
		return 1;
	}
	struct um_message_data d = {.sent_ms = m->sent_ms, .kind = m->kind, .body = m->body, .len = m->len};
	struct um_offline_item *it = &lw->job->items[lw->job->n_items];
	size_t cap = UM_MESSAGE_DATA_HEAD_BYTES + m->len;
	memcpy(d.id, m->id, 16);
	it->payload = malloc(cap);
	if (!it->payload)
		return -UM_ENOMEM;
	int len = um_message_data_encode(it->payload, cap, &d);
	if (len < 0) {
		free(it->payload);
		it->payload = NULL;
		return 0; /* cannot be sent at all: the live path refuses it too */
	}
	it->len = (size_t)len;
	it->content_type = UM_ENVELOPE_CONTENT_DATA;
	memcpy(it->ref, m->id, 16);
	lw->job->n_items++;
	return 0;
}

/* Runs the ladder over mp's undelivered messages; those due go out in one
 * job. */
static void ladder_pass(struct um_node_offline *off, size_t i, uint64_t now)
{
	struct um_node_messaging *ms = off->ms;
	struct msg_peer *mp = &ms->peers[i];
	struct off_peer *op = &off->peers[i];
	struct ladder_walk lw = {.off = off, .now = now, .now_wall_ms = um_wall_ms(), .next = UINT64_MAX};

	lw.job = um_offline_job_new(UM_OFFLINE_JOB_SEND);
	if (!lw.job)
		return;
	bool waiting = peer_urls(off, mp, lw.job);
	lw.peer = (struct um_ladder_peer){
	    .session = UM_LADDER_NONE,
	    .no_session_since = op->no_session_since,
	    .said_offline = mp->has_presence && mp->presence_state == UM_PRESENCE_OFFLINE,
	    .has_mailbox = lw.job->n_urls > 0,
	};
	int r = um_store_outbox_pending(ms->store, mp->peer->config->id.bytes, ladder_one, &lw);
	if (r < 0)
		um_log_warn("outbox of \"%s\": %s", msg_peer_name(mp), um_strerror(r));
	op->next_check = lw.full ? 0 : lw.next;
	if (waiting && op->next_check > now + UM_NSEC_PER_SEC)
		op->next_check = now + UM_NSEC_PER_SEC; /* the DHT's answer may come without a lookup's event */
	if (lw.job->n_items == 0) {
		um_offline_job_free(lw.job);
		return;
	}
	lw.job->data = true;
	lw.job->peer_index = i;
	memcpy(lw.job->peer_id, mp->peer->config->id.bytes, 32);
	op->data_inflight = true;
	submit(off, lw.job);
}

static void send_done(struct um_node_offline *off, struct um_offline_job *job)
{
	struct um_node_messaging *ms = off->ms;
	struct msg_peer *mp = &ms->peers[job->peer_index];
	struct off_peer *op = &off->peers[job->peer_index];
	size_t queued = 0, failed = 0;
	bool batch;

	if (!job->data) {
		for (size_t i = 0; i < job->n_items; i++)
			if (!job->items[i].acked)
				failed++;
		if (failed)
			um_log_warn("%zu receipts to \"%s\" not queued: %s", failed, msg_peer_name(mp),
				    um_strerror(job->result ? job->result : job->items[0].error));
		return;
	}
	op->data_inflight = false;
	batch = um_store_begin(ms->store) == 0;
	for (size_t i = 0; i < job->n_items; i++) {
		const struct um_offline_item *it = &job->items[i];
		if (!it->acked) {
			failed++;
			continue;
		}
		queued++;
		um_store_message_set_via(ms->store, job->peer_id, it->ref, true, UM_STORE_VIA_QUEUE);
	}
	if (batch && um_store_commit(ms->store))
		um_log_error("store commit failed: queued messages of \"%s\" will be queued again", msg_peer_name(mp));
	for (size_t i = 0; i < job->n_items; i++)
		if (job->items[i].acked)
			msg_notify_receipt(ms, mp, job->items[i].ref, UM_STORE_OUT_QUEUED);
	if (queued)
		um_log_info("%zu messages to \"%s\" queued on its mailboxes", queued, msg_peer_name(mp));
	if (failed) {
		op->retry_ns = op->retry_ns ? op->retry_ns * 2 : RETRY_MIN_NS;
		if (op->retry_ns > RETRY_MAX_NS)
			op->retry_ns = RETRY_MAX_NS;
		op->retry_at = um_now_ns() + op->retry_ns;
		um_log_warn("%zu messages to \"%s\" not queued (%s): again in %llu s", failed, msg_peer_name(mp),
			    um_strerror(job->result ? job->result : job->items[0].error),
			    (unsigned long long)(op->retry_ns / UM_NSEC_PER_SEC));
	} else {
		op->retry_ns = 0;
	}
	op->next_check = 0;
	rearm(off, um_now_ns());
}

static struct um_offline_job *receipt_job(struct um_node_offline *off, struct msg_peer *mp)
{
	struct um_offline_job *job = um_offline_job_new(UM_OFFLINE_JOB_SEND);

	if (!job)
		return NULL;
	peer_urls(off, mp, job);
	job->peer_index = (size_t)(mp - off->ms->peers);
	memcpy(job->peer_id, mp->peer->config->id.bytes, 32);
	return job;
}

/* Submits a receipt job, or holds it while the peer's mailboxes are
 * looked up in the DHT (no URL: peer_urls gives ours otherwise); a held
 * job takes what fits of later ones (the rest is dropped, logged). */
static void receipt_submit(struct um_node_offline *off, struct um_offline_job *job)
{
	struct off_peer *op = &off->peers[job->peer_index];
	size_t dropped = 0;

	if (job->n_urls) {
		submit(off, job);
		return;
	}
	if (!op->held) {
		op->held = job;
		return;
	}
	for (size_t i = 0; i < job->n_items; i++) {
		if (op->held->n_items == UM_OFFLINE_BATCH) {
			dropped++;
			continue;
		}
		op->held->items[op->held->n_items++] = job->items[i];
		job->items[i].payload = NULL;
	}
	if (dropped)
		um_log_warn("%zu receipts dropped while a peer's mailboxes are looked up", dropped);
	um_offline_job_free(job);
}

/* The held receipts of peer i go once its mailboxes are known. */
static void held_retry(struct um_node_offline *off, size_t i)
{
	struct um_offline_job *job = off->peers[i].held;

	if (!job)
		return;
	for (size_t k = 0; k < job->n_records; k++)
		free(job->records[k]);
	job->n_records = 0;
	peer_urls(off, &off->ms->peers[i], job);
	if (job->n_urls) {
		off->peers[i].held = NULL;
		submit(off, job);
	}
}

/* Adds a receipt to *job (a new one when NULL or full; a full one is
 * submitted). */
static void receipt_add(struct um_node_offline *off, struct msg_peer *mp, struct um_offline_job **job,
			const uint8_t id[16], uint8_t what)
{
	struct um_message_ack a = {.what = what};
	uint8_t buf[64];
	int len;

	memcpy(a.id, id, 16);
	len = um_message_ack_encode(buf, sizeof(buf), &a);
	if (len < 0)
		return;
	if (*job && (*job)->n_items == UM_OFFLINE_BATCH) {
		receipt_submit(off, *job);
		*job = NULL;
	}
	if (!*job && !(*job = receipt_job(off, mp)))
		return;
	struct um_offline_item *it = &(*job)->items[(*job)->n_items];
	it->payload = malloc((size_t)len);
	if (!it->payload)
		return;
	memcpy(it->payload, buf, (size_t)len);
	it->len = (size_t)len;
	it->content_type = UM_ENVELOPE_CONTENT_ACK;
	memcpy(it->ref, id, 16);
	(*job)->n_items++;
}

void um_node_offline_receipt(struct um_node_messaging *ms, struct msg_peer *mp, const uint8_t id[16], uint8_t what)
{
	struct um_node_offline *off = ms->offline;
	struct um_offline_job *job = NULL;

	if (!off || um_node_offline_live(mp))
		return;
	receipt_add(off, mp, &job, id, what);
	if (job)
		receipt_submit(off, job);
}

/* ---- fetching ---- */

static uint8_t ack_state(uint8_t what)
{
	return what == UM_RECEIPT_DELIVERED ? UM_STORE_OUT_DELIVERED
	       : what == UM_RECEIPT_READ    ? UM_STORE_OUT_READ
					    : UM_STORE_OUT_REFUSED;
}

/* What one fetched envelope became (applied after the commit). */
enum fetched_fate {
	FATE_KEEP,    /* not handled: stays at the relay (a store failure) */
	FATE_DELETE,  /* garbage, a duplicate, or nothing to report */
	FATE_MESSAGE, /* a new message stored: notify, receipt */
	FATE_RESENT,  /* a message stored before: receipt again */
	FATE_RECEIPT, /* an outgoing message's state moved */
};

static struct msg_peer *sender_of(struct um_node_messaging *ms, const uint8_t id[32])
{
	struct um_node_peer *peer = um_node_peer_find(ms->node, (const struct um_peer_id *)id);

	return peer ? msg_peer_of(peer) : NULL;
}

static enum fetched_fate fetched_apply(struct um_node_messaging *ms, struct um_offline_job *job, size_t k,
				       struct um_store_message *m, uint8_t *state)
{
	const struct um_offline_fetched *f = &job->fetched[k];
	struct msg_peer *mp;
	char hex[33];

	sodium_bin2hex(hex, sizeof(hex), f->envelope_id, 16);
	if (f->open_result == -UM_EAGAIN) {
		/* Its sender's key is not to be found yet: kept for a later fetch. */
		um_log_warn("envelope %s from %s: the sender's key is unknown (kept)", hex, job->urls[f->url]);
		return FATE_KEEP;
	}
	if (f->open_result) {
		um_log_warn("envelope %s from %s: %s (deleted)", hex, job->urls[f->url], um_strerror(f->open_result));
		return FATE_DELETE;
	}
	for (size_t i = 0; i < k; i++)
		if (!memcmp(job->fetched[i].envelope_id, f->envelope_id, 16) && !job->fetched[i].open_result)
			return FATE_DELETE; /* the backup's copy */
	mp = sender_of(ms, f->sender);
	if (!mp) {
		um_log_warn("envelope %s from an unknown peer (deleted)", hex);
		return FATE_DELETE;
	}
	if (f->content_type == UM_ENVELOPE_CONTENT_DATA) {
		struct um_message_data d;
		if (um_message_data_decode(&d, f->payload, f->len)) {
			um_log_warn("envelope %s from \"%s\": malformed message (deleted)", hex, msg_peer_name(mp));
			return FATE_DELETE;
		}
		*m = (struct um_store_message){.kind = d.kind,
					       .sent_ms = d.sent_ms,
					       .received_ms = um_wall_ms(),
					       .via = UM_STORE_VIA_QUEUE,
					       .body = d.body,
					       .len = d.len};
		memcpy(m->peer, f->sender, 32);
		memcpy(m->id, d.id, 16);
		int r = um_store_inbox_add(ms->store, m);
		if (r == 0) {
			m->seq = um_store_last_seq(ms->store);
			return FATE_MESSAGE;
		}
		return r == -UM_EEXIST ? FATE_RESENT : FATE_KEEP;
	}
	if (f->content_type == UM_ENVELOPE_CONTENT_ACK) {
		struct um_message_ack a;
		if (um_message_ack_decode(&a, f->payload, f->len))
			return FATE_DELETE;
		memset(m, 0, sizeof(*m));
		memcpy(m->peer, f->sender, 32);
		memcpy(m->id, a.id, 16);
		*state = ack_state(a.what);
		int r = um_store_peer_message_set_state(ms->store, f->sender, a.id, true, *state);
		if (r == 0)
			return FATE_RECEIPT;
		return r == -UM_EAGAIN || r == -EIO || r == -ENOSPC ? FATE_KEEP : FATE_DELETE;
	}
	return FATE_DELETE;
}

static void fetch_done(struct um_node_offline *off, struct um_offline_job *job)
{
	struct um_node_messaging *ms = off->ms;
	size_t n = job->n_fetched;
	enum fetched_fate *fate = calloc(n ? n : 1, sizeof(*fate));
	struct um_store_message *m = calloc(n ? n : 1, sizeof(*m));
	uint8_t *state = calloc(n ? n : 1, 1);
	struct um_offline_job **receipts = calloc(ms->n_peers ? ms->n_peers : 1, sizeof(*receipts));
	struct um_offline_job *del[UM_OFFLINE_MAILBOXES] = {0};
	bool batch;

	off->fetch_inflight = false;
	if (!fate || !m || !state || !receipts || n == 0)
		goto out;
	batch = um_store_begin(ms->store) == 0;
	for (size_t k = 0; k < n; k++)
		fate[k] = fetched_apply(ms, job, k, &m[k], &state[k]);
	if (batch && um_store_commit(ms->store)) {
		/* Nothing stored: everything stays at the relays for the next poll. */
		um_log_error("store commit failed: %zu envelopes left at the mailboxes", n);
		goto out;
	}
	for (size_t k = 0; k < n; k++) {
		struct msg_peer *mp = fate[k] == FATE_DELETE || fate[k] == FATE_KEEP ? NULL : sender_of(ms, m[k].peer);
		if (fate[k] == FATE_MESSAGE) {
			ms->counters.messages_received++;
			msg_notify_message(ms, &m[k]);
		}
		if (fate[k] == FATE_MESSAGE || fate[k] == FATE_RESENT) {
			msg_queue_ack(mp, m[k].id, UM_RECEIPT_DELIVERED, NULL); /* live, when a session comes */
			/* Sealed for a new message only: a copy fetched again (its
			 * delete failed) must not queue one more receipt per poll. */
			if (fate[k] == FATE_MESSAGE && !um_node_offline_live(mp))
				receipt_add(off, mp, &receipts[mp - ms->peers], m[k].id, UM_RECEIPT_DELIVERED);
			else
				msg_pump_soon(ms);
		}
		if (fate[k] == FATE_RECEIPT) {
			ms->counters.receipts++;
			msg_notify_receipt(ms, mp, m[k].id, state[k]);
		}
	}
	/* Then deleted, at the relay each copy came from. */
	for (size_t k = 0; k < n; k++) {
		unsigned u = job->fetched[k].url;
		if (fate[k] == FATE_KEEP || u >= UM_OFFLINE_MAILBOXES)
			continue;
		if (!del[u]) {
			del[u] = um_offline_job_new(UM_OFFLINE_JOB_DELETE);
			if (!del[u] || !(del[u]->ids = calloc(n, 16)))
				continue;
			snprintf(del[u]->urls[0], sizeof(del[u]->urls[0]), "%s", job->urls[u]);
			del[u]->n_urls = 1;
		}
		if (del[u]->ids)
			memcpy(del[u]->ids[del[u]->n_ids++], job->fetched[k].envelope_id, 16);
	}
	for (size_t i = 0; i < ms->n_peers; i++)
		if (receipts[i])
			receipt_submit(off, receipts[i]);
	for (size_t u = 0; u < UM_OFFLINE_MAILBOXES; u++) {
		if (del[u] && del[u]->n_ids)
			submit(off, del[u]);
		else
			um_offline_job_free(del[u]);
	}
	um_log_debug("%zu envelopes fetched from our mailboxes", n);
out:
	free(fate);
	free(m);
	free(state);
	free(receipts);
}

static void submit_fetch(struct um_node_offline *off)
{
	struct um_offline_job *job = um_offline_job_new(UM_OFFLINE_JOB_FETCH);

	if (!job)
		return;
	memcpy(job->urls, off->urls, sizeof(off->urls));
	job->n_urls = off->n_urls;
	off->fetch_inflight = true;
	submit(off, job);
}

void um_node_offline_fetch_soon(struct um_node_messaging *ms)
{
	struct um_node_offline *off = ms->offline;

	if (!off)
		return;
	off->next_fetch = 0;
	rearm(off, um_now_ns());
}

void um_node_offline_kick(struct um_node_messaging *ms, struct msg_peer *mp)
{
	struct um_node_offline *off = ms->offline;

	if (!off)
		return;
	off->peers[mp - ms->peers].next_check = 0;
	rearm(off, um_now_ns());
}

/* ---- the loop ---- */

static void on_waiter(struct um_loop *loop, struct um_watch *watch, uint32_t events)
{
	struct um_node_offline *off = watch->arg;
	(void)loop;
	(void)events;

	for (size_t i = 0; i < UM_OFFLINE_MAILBOXES; i++)
		if (watch == &off->waiter_watch[i] && off->waiters[i])
			um_offline_waiter_drain(off->waiters[i]);
	um_log_debug("mailbox: envelopes arrived");
	um_node_offline_fetch_soon(off->ms);
}

static void waiters_free(struct um_node_offline *off)
{
	for (size_t i = 0; i < UM_OFFLINE_MAILBOXES; i++)
		um_offline_waiter_stop(off->waiters[i]); /* all at once: each takes up to a second */
	for (size_t i = 0; i < UM_OFFLINE_MAILBOXES; i++) {
		if (off->waiters[i] && off->waiter_watch[i].fn)
			um_loop_remove(off->ms->node->loop, &off->waiter_watch[i]);
		um_offline_waiter_free(off->waiters[i]);
		off->waiters[i] = NULL;
	}
}

/* Push is best effort: without it the poll still finds everything. */
static void waiters_start(struct um_node_offline *off)
{
	for (size_t i = 0; i < off->n_urls; i++) {
		if (um_offline_waiter_new(&off->waiters[i], off->urls[i], &off->ms->node->identity))
			continue;
		off->waiter_watch[i] = (struct um_watch){
		    .fd = um_offline_waiter_fd(off->waiters[i]), .events = EPOLLIN, .fn = on_waiter, .arg = off};
		if (um_loop_add(off->ms->node->loop, &off->waiter_watch[i])) {
			off->waiter_watch[i].fn = NULL;
			um_offline_waiter_free(off->waiters[i]);
			off->waiters[i] = NULL;
		}
	}
}

static void on_worker(struct um_loop *loop, struct um_watch *watch, uint32_t events)
{
	struct um_node_offline *off = watch->arg;
	struct um_offline_job *job;
	(void)loop;
	(void)events;

	while ((job = um_offline_worker_take(watch == &off->watch ? off->worker : off->sender))) {
		switch (job->kind) {
		case UM_OFFLINE_JOB_PREKEYS:
			off->prekeys_inflight = false;
			if (job->prekey_changed)
				um_log_info("prekey rotated");
			if (job->prekey_changed || job->relays_ok != off->prekey_published)
				um_log_info("prekey published at %u of %zu mailboxes", job->relays_ok, job->n_urls);
			off->prekey_published = job->relays_ok;
			if (job->record && um_node_dht_mailbox_set(off->ms->node, job->record, job->record_len) == 0) {
				if (!off->record_built)
					um_log_info("mailbox record published in the DHT");
				off->record_built = true;
			}
			/* Retried soon until every mailbox has it. */
			off->next_prekeys =
			    um_now_ns() + (job->relays_ok == job->n_urls ? PREKEYS_EVERY_NS : PREKEYS_RETRY_NS);
			break;
		case UM_OFFLINE_JOB_SEND:
			send_done(off, job);
			break;
		case UM_OFFLINE_JOB_FETCH:
			fetch_done(off, job);
			rearm(off, um_now_ns()); /* a fetch asked for meanwhile goes now */
			break;
		case UM_OFFLINE_JOB_DELETE:
			break;
		}
		um_offline_job_free(job);
	}
}

static void on_tick(struct um_loop *loop, struct um_timer *timer)
{
	struct um_node_offline *off = timer->arg;
	struct um_node_messaging *ms = off->ms;
	uint64_t now = um_now_ns(), next = now + TICK_NS;
	(void)loop;

	if (!off->prekeys_inflight && now >= off->next_prekeys) {
		struct um_offline_job *job = um_offline_job_new(UM_OFFLINE_JOB_PREKEYS);
		if (job) {
			memcpy(job->urls, off->urls, sizeof(off->urls));
			job->n_urls = off->n_urls;
			job->want_record = off->ms->node->dht != NULL;
			job->record_built = off->record_built;
			off->prekeys_inflight = true;
			submit(off, job);
		}
	}
	for (size_t i = 0; i < ms->n_peers; i++) {
		struct off_peer *op = &off->peers[i];
		held_retry(off, i); /* a lookup that could not start answers nothing */
		if (um_node_offline_live(&ms->peers[i])) {
			op->was_live = true;
			continue;
		}
		if (op->was_live) {
			op->was_live = false;
			op->no_session_since = now;
			op->next_check = 0;
		}
		if (op->data_inflight)
			continue;
		if (now < op->retry_at) {
			next = op->retry_at < next ? op->retry_at : next;
			continue;
		}
		if (now >= op->next_check)
			ladder_pass(off, i, now);
		if (op->next_check < next)
			next = op->next_check > now ? op->next_check : now + UM_NSEC_PER_MSEC;
	}
	if (!off->fetch_inflight && now >= off->next_fetch) {
		submit_fetch(off);
		off->next_fetch = now + off->poll_ns;
	}
	if (off->next_fetch < next)
		next = off->next_fetch > now ? off->next_fetch : now + UM_NSEC_PER_MSEC;
	rearm(off, next);
}

/* A relay registration: we are reachable again, so are envelopes that
 * arrived while we were not. */
static void on_relay_registered(struct um_node *node)
{
	if (node->messaging)
		um_node_offline_fetch_soon(node->messaging);
}

/* A peer's mailbox record lookup ended: its ladder runs again. */
static void dht_found(void *ctx, size_t peer_index)
{
	struct um_node_offline *off = ctx;

	off->peers[peer_index].next_check = 0;
	held_retry(off, peer_index);
	rearm(off, um_now_ns());
}

int um_node_offline_start(struct um_node_messaging *ms)
{
	const struct um_config *c = &ms->node->config;
	struct um_offline_worker_config wc = {.identity = &ms->node->identity};
	struct um_node_offline *off;
	int r;

	if (!c->mailbox[0])
		return 0;
	off = calloc(1, sizeof(*off));
	if (!off)
		return -UM_ENOMEM;
	off->ms = ms;
	off->n_urls = parse_urls(c->mailbox, off->urls);
	off->queue_after_ns = c->mailbox_delay_ms * UM_NSEC_PER_MSEC;
	off->poll_ns = (c->mailbox_poll_ms ? c->mailbox_poll_ms : 30000) * UM_NSEC_PER_MSEC;
	off->peers = calloc(ms->n_peers ? ms->n_peers : 1, sizeof(*off->peers));
	r = -UM_ENOMEM;
	if (!off->peers)
		goto err;
	r = -UM_ECONFIG;
	if (!off->n_urls) {
		um_log_error("mailbox = %s: no URL", c->mailbox);
		goto err;
	}
	for (size_t i = 0; i < ms->n_peers; i++)
		off->peers[i].no_session_since = um_now_ns();
	snprintf(wc.ring_path, sizeof(wc.ring_path), "%s-prekeys", ms->store_path);
	memcpy(wc.admission_key, c->relay_admission_key, sizeof(wc.admission_key));
	wc.has_admission_key = c->has_relay_admission_key;
	r = um_offline_dht_new(&off->dht, ms->node, ms->n_peers, dht_found, off);
	if (r == 0)
		r = um_offline_worker_new(&off->worker, &wc);
	if (r == 0) {
		wc.ring_path[0] = '\0'; /* the sender's has no ring */
		r = um_offline_worker_new(&off->sender, &wc);
	}
	sodium_memzero(wc.admission_key, sizeof(wc.admission_key));
	if (r)
		goto err;
	off->watch =
	    (struct um_watch){.fd = um_offline_worker_fd(off->worker), .events = EPOLLIN, .fn = on_worker, .arg = off};
	off->sender_watch = off->watch;
	off->sender_watch.fd = um_offline_worker_fd(off->sender);
	r = um_loop_add(ms->node->loop, &off->watch);
	if (r == 0 && (r = um_loop_add(ms->node->loop, &off->sender_watch)))
		um_loop_remove(ms->node->loop, &off->watch);
	if (r)
		goto err;
	um_timer_init(&off->timer, on_tick, off);
	ms->offline = off;
	ms->node->hooks.relay_registered = on_relay_registered;
	waiters_start(off);
	rearm(off, um_now_ns());
	um_log_info("mailboxes: %s%s%s (queue after %llu ms without a session, polled every %llu ms)", off->urls[0],
		    off->n_urls > 1 ? ", " : "", off->n_urls > 1 ? off->urls[1] : "",
		    (unsigned long long)c->mailbox_delay_ms, (unsigned long long)(off->poll_ns / UM_NSEC_PER_MSEC));
	return 0;
err:
	um_offline_worker_free(off->worker);
	um_offline_worker_free(off->sender);
	um_offline_dht_free(off->dht);
	free(off->peers);
	free(off);
	return r;
}

void um_node_offline_stop(struct um_node_messaging *ms)
{
	struct um_node_offline *off = ms->offline;

	if (!off)
		return;
	ms->node->hooks.relay_registered = NULL;
	waiters_free(off);
	um_timer_cancel(ms->node->loop, &off->timer);
	um_loop_remove(ms->node->loop, &off->watch);
	um_loop_remove(ms->node->loop, &off->sender_watch);
	um_offline_worker_free(off->worker);
	um_offline_worker_free(off->sender);
	um_offline_dht_free(off->dht);
	for (size_t i = 0; i < ms->n_peers; i++)
		um_offline_job_free(off->peers[i].held);
	free(off->peers);
	free(off);
	ms->offline = NULL;
}
