/* SPDX-License-Identifier: MIT */
#include "node/offline_dht.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "msg/mailbox_record.h"
#include "node/dht.h"
#include "node/dht_internal.h"
#include "node/internal.h"
#include "util/clock.h"
#include "util/error.h"
#include "util/log.h"

#define RELOOK_NS (600ULL * UM_NSEC_PER_SEC) /* a found record looked up again */
#define MISS_NS   (30ULL * UM_NSEC_PER_SEC)  /* nothing found: again */
#define START_NS  UM_NSEC_PER_SEC            /* a lookup that could not start (no contacts yet) */
#define GRACE_NS  (10ULL * UM_NSEC_PER_SEC)  /* waited for a first answer before using ours */

struct dht_entry {
	uint8_t peer[32];
	bool looking, done;
	uint64_t next_ns, first_ns;
	struct um_node_dht_mailbox_values found; /* owned */
};

struct um_offline_dht {
	struct um_node *node;
	size_t n;
	struct dht_entry *entries; /* n */
	void (*found)(void *ctx, size_t peer_index);
	void *ctx;
};

static void values_free(struct um_node_dht_mailbox_values *v)
{
	for (unsigned i = 0; i < v->n; i++)
		free(v->value[i]);
	memset(v, 0, sizeof(*v));
}

static void on_found(void *ctx, const uint8_t peer[32], struct um_node_dht_mailbox_values *found)
{
	struct um_offline_dht *od = ctx;
	uint64_t now = um_now_ns();

	for (size_t i = 0; i < od->n; i++) {
		struct dht_entry *e = &od->entries[i];
		if (!e->looking || memcmp(e->peer, peer, 32))
			continue;
		e->looking = false;
		e->done = true;
		e->next_ns = now + (found->n ? RELOOK_NS : MISS_NS);
		if (found->n) {
			values_free(&e->found);
			e->found = *found;
			memset(found, 0, sizeof(*found));
		}
		um_log_debug("mailbox record lookup: %u candidates", e->found.n);
		od->found(od->ctx, i);
		break;
	}
	values_free(found); /* a lookup nobody waits for */
}

int um_offline_dht_new(struct um_offline_dht **out, struct um_node *node, size_t n_peers,
		       void (*found)(void *ctx, size_t peer_index), void *ctx)
{
	struct um_offline_dht *od;

	*out = NULL;
	od = calloc(1, sizeof(*od));
	if (!od)
		return -UM_ENOMEM;
	od->entries = calloc(n_peers ? n_peers : 1, sizeof(*od->entries));
	if (!od->entries) {
		free(od);
		return -UM_ENOMEM;
	}
	od->node = node;
	od->n = n_peers;
	od->found = found;
	od->ctx = ctx;
	*out = od;
	return 0;
}

void um_offline_dht_free(struct um_offline_dht *od)
{
	if (!od)
		return;
	um_node_dht_mailbox_unhook(od->node);
	for (size_t i = 0; i < od->n; i++)
		values_free(&od->entries[i].found);
	free(od->entries);
	free(od);
}

/* A DHT with a way in (bootstrap lines, a saved routing table): worth
 * waiting for; one with neither only learns contacts that call it. */
static bool may_answer(const struct um_node *node)
{
	const struct um_node_dht *d = node->dht;

	return d->n_bootstrap > 0 || d->state_contacts > 0;
}

int um_offline_dht_fill(struct um_offline_dht *od, size_t peer_index, const uint8_t peer[32],
			struct um_offline_job *job)
{
	struct dht_entry *e;
	uint64_t now = um_now_ns();

	if (!od || peer_index >= od->n || !um_node_dht_mailboxes_public(od->node))
		return -UM_ENOTFOUND; /* the DHT starts after us (asked each time), or is private */
	e = &od->entries[peer_index];
	if (!e->first_ns)
		e->first_ns = now;
	if (!e->looking && now >= e->next_ns) {
		memcpy(e->peer, peer, 32);
		int r = um_node_dht_mailbox_lookup(od->node, peer, on_found, od);
		if (r == 0)
			e->looking = true;
		else
			e->next_ns = now + (e->done ? MISS_NS : START_NS);
	}
	/* Before a first answer (a lookup running, or our DHT without
	 * contacts yet) the message waits a little rather than go to our own
	 * mailboxes, where a peer with others would never look. */
	if (!e->found.n)
		return !e->done && now - e->first_ns < GRACE_NS && may_answer(od->node) ? 0 : -UM_ENOTFOUND;
	/* The candidates (verified by the worker) and, until then, the first
	 * one's URLs (so the ladder sees a mailbox). */
	uint8_t key[32];
	struct um_mailbox_record m;
	um_mailbox_record_key(peer, key);
	job->n_urls = 0;
	for (unsigned i = 0; i < e->found.n && job->n_records < UM_OFFLINE_RECORDS; i++) {
		uint8_t *copy = malloc(e->found.len[i]);
		if (!copy)
			break;
		memcpy(copy, e->found.value[i], e->found.len[i]);
		job->records[job->n_records] = copy;
		job->records_len[job->n_records++] = e->found.len[i];
		if (!job->n_urls && um_mailbox_record_check(key, copy, e->found.len[i], um_wall_ms(), &m) == 0) {
			for (unsigned u = 0; u < m.n_urls && u < UM_OFFLINE_MAILBOXES; u++)
				snprintf(job->urls[u], sizeof(job->urls[u]), "%s", m.urls[u]);
			job->n_urls = m.n_urls < UM_OFFLINE_MAILBOXES ? m.n_urls : UM_OFFLINE_MAILBOXES;
		}
	}
	if (!job->n_urls)
		return -UM_ENOTFOUND; /* all expired meanwhile */
	job->include_pk = true;       /* our key is not published at its mailboxes */
	return 1;
}
