/* SPDX-License-Identifier: MIT */
/* In-memory "network" for handshake tests: two engines, a datagram queue
 * between them, and a hook that may drop or alter datagrams in flight. */
#ifndef UM_TEST_HS_HARNESS_H
#define UM_TEST_HS_HARNESS_H

#include <sodium.h>
#include <stdlib.h>
#include <string.h>

#include "session/handshake.h"

struct hs_node {
	struct um_identity identity;
	struct um_handshake_engine *engine;
	struct um_addr addr;
	struct um_handshake_peer *peer; /* handle for the other node */
	int established;
	struct um_keypair keypair;
	struct um_hs_params params;
	struct um_addr peer_endpoint;
	int failed;
	int last_error;
	int early;                    /* UM_HS_EVENT_KEYS seen (config.early_keys) */
	struct um_keypair early_keys; /* the last of them */
};

enum { HS_QUEUE_MAX = 64 };
struct hs_queue {
	unsigned n;
	uint16_t len[HS_QUEUE_MAX];
	uint8_t data[HS_QUEUE_MAX][UM_HS_MAX_DATAGRAM];
};

/* Return 0 to deliver (possibly modified), 1 to drop. seq counts every
 * datagram sent in the run. */
typedef int (*hs_filter_fn)(void *ctx, unsigned seq, const struct hs_node *from, uint8_t *dgram, uint16_t *len);

static struct um_handshake_output hs_out;
/* config.repeat_single of the engines hs_node_init makes from now on. */
static bool hs_repeat_single;

static inline void hs_node_init(struct hs_node *n, uint8_t last_octet)
{
	memset(n, 0, sizeof(*n));
	um_identity_generate(&n->identity);
	struct um_handshake_config cfg = {.identity = &n->identity,
					  .mtu = 1400,
					  .heartbeat_s = 15,
					  .rotation_s = 120,
					  .direct_p2p = true,
					  .repeat_single = hs_repeat_single};
	um_handshake_engine_new(&n->engine, &cfg);
	n->addr.family = 4;
	n->addr.addr[0] = 10;
	n->addr.addr[3] = last_octet;
	n->addr.port = 51820;
}

static inline void hs_node_free(struct hs_node *n)
{
	um_handshake_engine_free(n->engine);
	um_identity_wipe(&n->identity);
}

static inline void hs_pair(struct hs_node *a, struct hs_node *b)
{
	um_handshake_peer_add(a->engine, &b->identity.id, b, &a->peer);
	um_handshake_peer_add(b->engine, &a->identity.id, a, &b->peer);
}

static inline void hs_take_output(struct hs_node *self, struct hs_queue *q)
{
	q->n = 0;
	for (unsigned i = 0; i < hs_out.n_datagrams && q->n < HS_QUEUE_MAX; i++) {
		memcpy(q->data[q->n], hs_out.datagrams[i], hs_out.lengths[i]);
		q->len[q->n++] = hs_out.lengths[i];
	}
	if (hs_out.event == UM_HS_EVENT_ESTABLISHED) {
		self->established++;
		self->keypair = hs_out.keypair;
		self->params = hs_out.params;
		self->peer_endpoint = hs_out.peer_endpoint;
	} else if (hs_out.event == UM_HS_EVENT_FAILED) {
		self->failed++;
	} else if (hs_out.event == UM_HS_EVENT_KEYS) {
		self->early++;
		self->early_keys = hs_out.keypair;
	}
}

/* Delivers q from `from` to `to` and keeps bouncing replies until silence. */
static inline void hs_pump(struct hs_node *from, struct hs_node *to, struct hs_queue *q, struct um_handshake_time now,
			   hs_filter_fn filter, void *ctx, unsigned *seq)
{
	static struct hs_queue next;
	for (int round = 0; round < 16 && q->n; round++) {
		next.n = 0;
		for (unsigned i = 0; i < q->n; i++) {
			unsigned s = (*seq)++;
			if (filter && filter(ctx, s, from, q->data[i], &q->len[i]))
				continue;
			int r = um_handshake_receive(to->engine, &from->addr, q->data[i], q->len[i], now, &hs_out);
			if (r < 0)
				to->last_error = r;
			struct hs_queue tmp;
			hs_take_output(to, &tmp);
			for (unsigned j = 0; j < tmp.n && next.n < HS_QUEUE_MAX; j++) {
				memcpy(next.data[next.n], tmp.data[j], tmp.len[j]);
				next.len[next.n++] = tmp.len[j];
			}
		}
		memcpy(q, &next, sizeof(next));
		struct hs_node *t = from;
		from = to;
		to = t;
	}
}

/* a initiates to b; returns 0 when both sides reported ESTABLISHED. */
static inline int hs_run(struct hs_node *a, struct hs_node *b, struct um_handshake_time now, hs_filter_fn filter,
			 void *ctx)
{
	static struct hs_queue q;
	unsigned seq = 0;
	int ea = a->established, eb = b->established;
	if (um_handshake_initiate(a->engine, a->peer, &b->addr, now, &hs_out) < 0)
		return -1;
	hs_take_output(a, &q);
	hs_pump(a, b, &q, now, filter, ctx, &seq);
	return (a->established == ea + 1 && b->established == eb + 1) ? 0 : -1;
}

static inline struct um_handshake_time hs_time(uint64_t sec)
{
	struct um_handshake_time t = {.mono_ns = 1000000000ULL * (sec + 1000),
				      .wall_ms = 1700000000000ULL + sec * 1000};
	return t;
}

/* A case with fresh nodes: the test file defines fixture_up() and
 * fixture_down() (which nodes, how they are paired) and runs each case with
 * RUN_FRESH, so no engine state carries over from the case before. */
#define RUN_FRESH(fn)                                                                                                  \
	do {                                                                                                           \
		fixture_up();                                                                                          \
		RUN(fn);                                                                                               \
		fixture_down();                                                                                        \
	} while (0)

#endif
