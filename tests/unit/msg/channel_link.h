/* SPDX-License-Identifier: MIT */
/* Two message channels wired through an in-memory link on a fake clock
 * that can drop, duplicate, reorder and delay segments (one-way delay plus
 * a random extra for the reordered ones), optionally at a limited rate.
 * Used by tests/unit/msg/test_channel.c and bench/channel.c.
 *
 *   struct link *l = link_new(&params, seed);    (channels l->ch[0], l->ch[1])
 *   link_pump(l);   send what both channels output, deliver what is due,
 *                   advance the clock to the next event; returns false when
 *                   nothing at all is pending. */
#ifndef UM_TEST_CHANNEL_LINK_H
#define UM_TEST_CHANNEL_LINK_H

#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "msg/channel.h"
#include "wire/channel.h"

struct link_params {
	double loss, duplicate, reorder; /* probabilities per segment */
	uint64_t delay_ns;               /* one way */
	uint64_t reorder_ns;             /* extra delay (uniform 0..this) of a reordered segment */
	uint64_t rate_bytes_per_s;       /* 0 = unlimited */
	struct um_channel_config config[2];
};

struct link_packet {
	uint64_t at, seq;
	int to;
	uint16_t len;
	uint8_t data[UM_CHANNEL_SEGMENT_MAX];
};

struct link {
	struct link_params p;
	struct um_channel *ch[2];
	uint64_t now, rng, seq;
	uint64_t busy_until[2];   /* when each direction's wire is free (rate limit) */
	unsigned drop_next[2];    /* drop the next n segments sent by side i */
	bool hold[2];             /* drop everything side i sends */
	unsigned flush_budget;    /* segments a side may send per flush (a socket that fills up), 0 = no limit */
	uint64_t unsent;          /* segments handed back with um_channel_unsend */
	struct link_packet *heap; /* min-heap on (at, seq) */
	size_t count, cap;
	uint64_t sent[2], dropped[2];
	/* Hook: called for every segment delivered to side `to`, before input. */
	void (*on_deliver)(struct link *l, int to, const uint8_t *seg, size_t len);
};

static inline uint64_t link_rand(struct link *l)
{
	/* xorshift64*: deterministic per seed. */
	l->rng ^= l->rng >> 12;
	l->rng ^= l->rng << 25;
	l->rng ^= l->rng >> 27;
	return l->rng * UINT64_C(2685821657736338717);
}

static inline bool link_chance(struct link *l, double p)
{
	return p > 0 && (double)(link_rand(l) >> 11) / (double)(UINT64_C(1) << 53) < p;
}

static inline bool link_before(const struct link_packet *a, const struct link_packet *b)
{
	return a->at < b->at || (a->at == b->at && a->seq < b->seq);
}

static inline void link_heap_push(struct link *l, const struct link_packet *p)
{
	if (l->count == l->cap) {
		l->cap = l->cap ? l->cap * 2 : 1024;
		l->heap = realloc(l->heap, l->cap * sizeof(*l->heap));
		if (!l->heap)
			abort();
	}
	size_t i = l->count++;
	while (i > 0 && link_before(p, &l->heap[(i - 1) / 2])) {
		l->heap[i] = l->heap[(i - 1) / 2];
		i = (i - 1) / 2;
	}
	l->heap[i] = *p;
}

static inline void link_heap_pop(struct link *l, struct link_packet *out)
{
	*out = l->heap[0];
	struct link_packet last = l->heap[--l->count];
	size_t i = 0;
	for (;;) {
		size_t c = 2 * i + 1;
		if (c >= l->count)
			break;
		if (c + 1 < l->count && link_before(&l->heap[c + 1], &l->heap[c]))
			c++;
		if (!link_before(&l->heap[c], &last))
			break;
		l->heap[i] = l->heap[c];
		i = c;
	}
	if (l->count)
		l->heap[i] = last;
}

static inline struct link *link_new(const struct link_params *p, uint64_t seed)
{
	struct link *l = calloc(1, sizeof(*l));

	if (!l)
		abort();
	l->p = *p;
	l->rng = seed ? seed : 1;
	l->now = UINT64_C(1000000000);
	for (int i = 0; i < 2; i++)
		if (um_channel_new(&p->config[i], link_rand(l) | 1, l->now, &l->ch[i]) < 0)
			abort();
	return l;
}

static inline void link_free(struct link *l)
{
	if (!l)
		return;
	um_channel_free(l->ch[0]);
	um_channel_free(l->ch[1]);
	free(l->heap);
	free(l);
}

/* Replaces side i's channel by a new one (a restarted daemon). */
static inline void link_restart(struct link *l, int i)
{
	um_channel_free(l->ch[i]);
	if (um_channel_new(&l->p.config[i], link_rand(l) | 1, l->now, &l->ch[i]) < 0)
		abort();
}

/* Puts a segment from side `from` on the wire (the link's impairments apply). */
static inline void link_send(struct link *l, int from, const uint8_t *seg, size_t len)
{
	struct link_packet pk;

	l->sent[from]++;
	if (l->hold[from] || l->drop_next[from] || link_chance(l, l->p.loss)) {
		if (l->drop_next[from])
			l->drop_next[from]--;
		l->dropped[from]++;
		return;
	}
	uint64_t depart = l->now;
	if (l->p.rate_bytes_per_s) {
		if (l->busy_until[from] > depart)
			depart = l->busy_until[from];
		depart += (uint64_t)len * UINT64_C(1000000000) / l->p.rate_bytes_per_s;
		l->busy_until[from] = depart;
	}
	pk.to = 1 - from;
	pk.len = (uint16_t)len;
	memcpy(pk.data, seg, len);
	int copies = link_chance(l, l->p.duplicate) ? 2 : 1;
	for (int c = 0; c < copies; c++) {
		pk.at = depart + l->p.delay_ns;
		if (l->p.reorder_ns && link_chance(l, l->p.reorder))
			pk.at += link_rand(l) % l->p.reorder_ns;
		pk.seq = l->seq++;
		link_heap_push(l, &pk);
	}
}

/* Sends everything both channels have to send now. */
static inline void link_flush(struct link *l)
{
	uint8_t buf[UM_CHANNEL_SEGMENT_MAX];
	size_t len;

	for (int i = 0; i < 2; i++) {
		unsigned n = 0;
		while (um_channel_output(l->ch[i], l->now, buf, sizeof(buf), &len) == 0 && len > 0) {
			if (l->flush_budget && n++ == l->flush_budget) {
				/* The socket is full: hand the segment back. */
				if (um_channel_unsend(l->ch[i]) != 0)
					abort();
				l->unsent++;
				break;
			}
			link_send(l, i, buf, len);
		}
	}
}

/* One step: flush, then advance the clock to the next delivery or
 * deadline and deliver what is due. Returns false when nothing is pending
 * (no packet on the wire, no deadline). */
static inline bool link_pump(struct link *l)
{
	struct link_packet pk;
	uint64_t next = UINT64_MAX;

	link_flush(l);
	if (l->count)
		next = l->heap[0].at;
	for (int i = 0; i < 2; i++) {
		uint64_t d = um_channel_deadline(l->ch[i]);
		if (d < next)
			next = d;
	}
	if (next == UINT64_MAX)
		return false;
	if (next > l->now)
		l->now = next;
	while (l->count && l->heap[0].at <= l->now) {
		link_heap_pop(l, &pk);
		if (l->on_deliver)
			l->on_deliver(l, pk.to, pk.data, pk.len);
		um_channel_input(l->ch[pk.to], pk.data, pk.len, l->now);
	}
	return true;
}

#endif
