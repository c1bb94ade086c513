/* SPDX-License-Identifier: MIT */
/* The node's DHT publish slots beside dht.c's record: the generic put of a
 * value under d->publish_key (moved from dht.c) and the mailbox slot (our
 * mailbox record, msg/mailbox_record.h, under SHA3-256("umbra mailbox" ||
 * our ID), put when node/offline.c hands one and hourly), the lookups of
 * peers' mailbox records for node/offline.c, and the engine's value check,
 * which accepts mailbox records beside the DHT's own record types. */
#include <stdlib.h>
#include <string.h>

#include "crypto/sha3.h"
#include "msg/mailbox_record.h"
#include "node/dht_internal.h"
#include "node/internal.h"
#include "util/clock.h"
#include "util/error.h"
#include "util/log.h"

#define MAILBOX_REPUBLISH_NS (3600 * UM_NSEC_PER_SEC) /* values live at most 24 h at a storer */
#define MAILBOX_RETRY_NS     (2 * UM_NSEC_PER_SEC)    /* no contacts yet, or nobody stored it */

int um_node_dht_value_check(void *ctx, const uint8_t key[32], const uint8_t *value, size_t len, uint64_t now_ns,
			    struct um_dht_value_info *info)
{
	const struct um_dht_record_clock *clock = ctx;
	struct um_mailbox_record m;
	uint8_t slot[32 + 32];
	int r;

	if (!value || len < 2 || value[1] != UM_MAILBOX_RECORD_TYPE)
		return um_dht_record_check(ctx, key, value, len, now_ns, info);
	r = um_mailbox_record_check(key, value, len, um_dht_record_clock_unix(clock, now_ns) * 1000, &m);
	if (r)
		return r;
	/* A storer cannot check the hybrid signature (the owner's key does not
	 * fit in the record): records are kept per (owner, Ed25519 key), so a
	 * forger's record sits beside the owner's and never replaces it. */
	memcpy(slot, m.owner, 32);
	memcpy(slot + 32, m.ed25519_pk, 32);
	um_sha3_256(info->owner, slot, sizeof(slot));
	info->sequence = m.sequence;
	info->expires_ns = um_dht_record_clock_mono(clock, m.expires_ms / 1000);
	return 0;
}

/* ---- our record ---- */

static void mailbox_put(struct um_node_dht *d, uint64_t now)
{
	struct dht_mailbox *mb = &d->mailbox;
	int r;

	if (mb->put_id)
		um_dht_cancel(d->engine, mb->put_id);
	mb->put_id = 0;
	um_node_dht_clock_refresh(d);
	r = um_dht_put(d->engine, mb->key, mb->value, mb->len, now, &mb->put_id, d->out);
	if (r == -UM_ESTATE) {
		mb->next_ns = now + MAILBOX_RETRY_NS;
	} else if (r) {
		um_log_warn("dht: publishing our mailbox record: %s", um_strerror(r));
		mb->next_ns = now + 5 * MAILBOX_RETRY_NS;
	} else {
		mb->puts++;
		mb->next_ns = now + MAILBOX_REPUBLISH_NS;
	}
	um_node_dht_jobs_at(d, mb->next_ns);
}

int um_node_dht_mailbox_set(struct um_node *node, const uint8_t *value, size_t len)
{
	struct um_node_dht *d = node->dht;
	uint8_t *copy;

	if (!um_node_dht_mailboxes_public(node))
		return -UM_ENOTFOUND;
	if (!value || len < 2 || len > UM_DHT_VALUE_MAX)
		return -UM_EINVAL;
	copy = malloc(len);
	if (!copy)
		return -UM_ENOMEM;
	memcpy(copy, value, len);
	free(d->mailbox.value);
	d->mailbox.value = copy;
	d->mailbox.len = len;
	um_mailbox_record_key(node->identity.id.bytes, d->mailbox.key);
	mailbox_put(d, um_now_ns());
	um_node_dht_flush(d);
	return 0;
}

bool um_node_dht_mailboxes_public(const struct um_node *node)
{
	return node->dht && !node->dht->has_network_key;
}

/* ---- peers' records ---- */

int um_node_dht_mailbox_lookup(struct um_node *node, const uint8_t peer[32], um_node_dht_mailbox_fn fn, void *ctx)
{
	struct um_node_dht *d = node->dht;
	struct dht_mailbox_lookup *l = NULL;
	uint8_t key[32];
	int r;

	if (!um_node_dht_mailboxes_public(node) || d->relay)
		return -UM_ENOTFOUND;
	for (unsigned i = 0; i < DHT_MAILBOX_LOOKUPS && !l; i++)
		if (!d->mailbox.lookups[i].id)
			l = &d->mailbox.lookups[i];
	if (!l)
		return -UM_ELIMIT;
	d->mailbox.fn = fn;
	d->mailbox.ctx = ctx;
	memset(l, 0, sizeof(*l));
	memcpy(l->peer, peer, 32);
	um_mailbox_record_key(peer, key);
	um_node_dht_clock_refresh(d);
	r = um_dht_find_value(d->engine, key, um_now_ns(), &l->id, d->out);
	if (r) {
		l->id = 0;
		return r;
	}
	um_node_dht_flush(d);
	return 0;
}

void um_node_dht_mailbox_unhook(struct um_node *node)
{
	if (node->dht) {
		node->dht->mailbox.fn = NULL;
		node->dht->mailbox.ctx = NULL;
	}
}

static void found_free(struct um_node_dht_mailbox_values *f)
{
	for (unsigned i = 0; i < f->n; i++)
		free(f->value[i]);
	f->n = 0;
}

/* A candidate kept among the highest sequences (the engine checked it as
 * a storer does). */
static void lookup_value(struct dht_mailbox_lookup *l, const struct um_dht_event *e)
{
	struct um_node_dht_mailbox_values *f = &l->found;
	unsigned at = f->n;

	if (e->value_len < 2 || e->value[1] != UM_MAILBOX_RECORD_TYPE)
		return;
	for (unsigned i = 0; i < f->n; i++)
		if (f->len[i] == e->value_len && !memcmp(f->value[i], e->value, e->value_len))
			return; /* the same from another storer */
	if (f->n == UM_NODE_DHT_MAILBOX_VALUES) {
		at = 0;
		for (unsigned i = 1; i < f->n; i++)
			if (l->sequences[i] < l->sequences[at])
				at = i;
		if (l->sequences[at] >= e->info.sequence)
			return;
		free(f->value[at]);
	}
	uint8_t *copy = malloc(e->value_len);
	if (!copy)
		return;
	memcpy(copy, e->value, e->value_len);
	f->value[at] = copy;
	f->len[at] = e->value_len;
	l->sequences[at] = e->info.sequence;
	if (at == f->n)
		f->n++;
}

/* Highest sequence first. */
static void found_sort(struct dht_mailbox_lookup *l)
{
	struct um_node_dht_mailbox_values *f = &l->found;

	for (unsigned i = 1; i < f->n; i++)
		for (unsigned j = i; j > 0 && l->sequences[j] > l->sequences[j - 1]; j--) {
			uint64_t s = l->sequences[j];
			l->sequences[j] = l->sequences[j - 1];
			l->sequences[j - 1] = s;
			uint8_t *v = f->value[j];
			f->value[j] = f->value[j - 1];
			f->value[j - 1] = v;
			size_t n = f->len[j];
			f->len[j] = f->len[j - 1];
			f->len[j - 1] = n;
		}
}

void um_node_dht_mailbox_event(struct um_node_dht *d, const struct um_dht_event *e)
{
	struct dht_mailbox *mb = &d->mailbox;

	if (e->type == UM_DHT_EVENT_PUT_DONE && mb->put_id && e->id == mb->put_id) {
		mb->put_id = 0;
		mb->storers = e->storers;
		mb->published_ns = um_now_ns();
		um_log_debug("dht: mailbox record stored at %u nodes", e->storers);
		if (!e->storers) {
			mb->next_ns = um_now_ns() + MAILBOX_RETRY_NS;
			um_node_dht_jobs_at(d, mb->next_ns);
		}
		return;
	}
	if (e->type != UM_DHT_EVENT_VALUE && e->type != UM_DHT_EVENT_LOOKUP_DONE)
		return;
	for (unsigned i = 0; i < DHT_MAILBOX_LOOKUPS; i++) {
		struct dht_mailbox_lookup *l = &mb->lookups[i];
		if (!l->id || l->id != e->id)
			continue;
		if (e->type == UM_DHT_EVENT_VALUE) {
			lookup_value(l, e);
			return;
		}
		l->id = 0;
		found_sort(l);
		um_log_debug("dht: mailbox lookup: %u records in %llu ms", l->found.n,
			     (unsigned long long)(e->elapsed_ns / UM_NSEC_PER_MSEC));
		if (mb->fn)
			mb->fn(mb->ctx, l->peer, &l->found); /* owns the values now */
		else
			found_free(&l->found);
		memset(&l->found, 0, sizeof(l->found));
		return;
	}
}

void um_node_dht_mailbox_job(struct um_node_dht *d, uint64_t now)
{
	struct dht_mailbox *mb = &d->mailbox;

	if (!mb->value)
		return;
	if (mb->next_ns <= now && !mb->put_id)
		mailbox_put(d, now);
	um_node_dht_jobs_at(d, mb->put_id ? now + MAILBOX_REPUBLISH_NS : mb->next_ns);
}

void um_node_dht_mailbox_stop(struct um_node_dht *d)
{
	free(d->mailbox.value);
	d->mailbox.value = NULL;
	for (unsigned i = 0; i < DHT_MAILBOX_LOOKUPS; i++)
		found_free(&d->mailbox.lookups[i].found);
}
