/* SPDX-License-Identifier: MIT */
/* A lossy network for handshake tests: two engines (hs_harness.h nodes), a
 * fixed one-way delay, a drop hook per datagram, the engines' timers run
 * at their deadlines, all on a fake clock. Counts every datagram sent by
 * type, so a test can hold fragments sent against the message size. */
#ifndef UM_TEST_HS_LOSSY_H
#define UM_TEST_HS_LOSSY_H

#include "hs_harness.h"
#include "wire/types.h"

enum { LOSSY_MAX_PACKETS = 256 };

struct lossy_packet {
	uint64_t at;
	int to; /* 0 = a, 1 = b */
	uint16_t len;
	uint8_t data[UM_HS_MAX_DATAGRAM];
};

struct lossy_net;
/* Return 1 to drop the datagram `from` (0 = a, 1 = b) sends now. */
typedef int (*lossy_drop_fn)(struct lossy_net *net, int from, const uint8_t *dgram, uint16_t len);

struct lossy_net {
	struct hs_node *node[2];
	uint64_t delay_ns;
	lossy_drop_fn drop;
	void *ctx;
	uint64_t now_ns, base_ns, base_wall_ms;
	unsigned n_packets;
	struct lossy_packet packets[LOSSY_MAX_PACKETS];
	/* Per sender: datagrams sent (dropped ones included), by first byte,
	 * by (FRAGMENT msg_type, piece index), and how many were dropped. */
	unsigned sent[2], sent_type[2][256], sent_piece[2][16][UM_FRAG_MAX_COUNT], dropped[2];
	uint64_t done_ns; /* when both sides had reported ESTABLISHED (0: not yet) */
	int trace;        /* print every datagram sent to stderr */
};

static inline struct um_handshake_time lossy_time(const struct lossy_net *net)
{
	struct um_handshake_time t = {.mono_ns = net->now_ns,
				      .wall_ms = net->base_wall_ms + (net->now_ns - net->base_ns) / 1000000ULL};
	return t;
}

/* Queues what hs_out holds (sent by node `from`) and records its event. */
static inline void lossy_take(struct lossy_net *net, int from)
{
	struct hs_queue q;
	hs_take_output(net->node[from], &q);
	for (unsigned i = 0; i < q.n; i++) {
		const uint8_t *d = q.data[i];
		net->sent[from]++;
		net->sent_type[from][d[0]]++;
		if (d[0] == UM_TYPE_FRAGMENT && d[1] < 16 && d[2] < UM_FRAG_MAX_COUNT)
			net->sent_piece[from][d[1]][d[2]]++;
		int dropped = net->drop && net->drop(net, from, d, q.len[i]);
		if (net->trace)
			fprintf(stderr, "  %7.1f ms %c -> type %u msg %u piece %u/%u rx %08x%s\n",
				(double)(net->now_ns - net->base_ns) / 1e6, from ? 'B' : 'A', d[0],
				q.len[i] > 1 ? d[1] : 0, q.len[i] > 2 ? d[2] : 0, q.len[i] > 3 ? d[3] : 0,
				q.len[i] >= 8 ? (unsigned)(d[4] << 24 | d[5] << 16 | d[6] << 8 | d[7]) : 0u,
				dropped ? " DROPPED" : "");
		if (dropped) {
			net->dropped[from]++;
			continue;
		}
		if (net->n_packets >= LOSSY_MAX_PACKETS)
			continue; /* counted as sent, lost in a full queue */
		struct lossy_packet *p = &net->packets[net->n_packets++];
		p->at = net->now_ns + net->delay_ns;
		p->to = 1 - from;
		p->len = q.len[i];
		memcpy(p->data, d, q.len[i]);
	}
}

static inline void lossy_init(struct lossy_net *net, struct hs_node *a, struct hs_node *b, uint64_t delay_ns,
			      struct um_handshake_time start)
{
	memset(net, 0, sizeof(*net));
	net->node[0] = a;
	net->node[1] = b;
	net->delay_ns = delay_ns;
	net->now_ns = net->base_ns = start.mono_ns;
	net->base_wall_ms = start.wall_ms;
}

/* a initiates to b at the current time, then the network runs until both
 * report ESTABLISHED, a gives up, or limit_ns passes. 0 when established. */
static inline int lossy_run(struct lossy_net *net, uint64_t limit_ns)
{
	struct hs_node *a = net->node[0], *b = net->node[1];
	int ea = a->established, eb = b->established, fa = a->failed;
	uint64_t end = net->now_ns + limit_ns;

	if (um_handshake_initiate(a->engine, a->peer, &b->addr, lossy_time(net), &hs_out) < 0)
		return -1;
	lossy_take(net, 0);
	while (net->now_ns < end) {
		if (a->established > ea && b->established > eb) {
			net->done_ns = net->now_ns;
			return 0;
		}
		if (a->failed > fa)
			return -1;
		uint64_t next = UINT64_MAX;
		unsigned first = 0;
		for (unsigned i = 0; i < net->n_packets; i++)
			if (net->packets[i].at < next) {
				next = net->packets[i].at;
				first = i;
			}
		uint64_t deadline[2];
		for (int k = 0; k < 2; k++) {
			deadline[k] = um_handshake_next_deadline(net->node[k]->engine);
			if (deadline[k] < next)
				next = deadline[k];
		}
		if (next == UINT64_MAX || next > end)
			break;
		if (next > net->now_ns)
			net->now_ns = next;
		if (net->n_packets && net->packets[first].at == next) {
			/* In sending order among packets due at once. */
			static struct lossy_packet p;
			p = net->packets[first];
			memmove(&net->packets[first], &net->packets[first + 1],
				(net->n_packets - first - 1) * sizeof(net->packets[0]));
			net->n_packets--;
			struct hs_node *to = net->node[p.to], *from = net->node[1 - p.to];
			int r = um_handshake_receive(to->engine, &from->addr, p.data, p.len, lossy_time(net), &hs_out);
			if (r < 0)
				to->last_error = r;
			lossy_take(net, p.to);
			continue;
		}
		for (int k = 0; k < 2; k++)
			if (deadline[k] <= net->now_ns)
				while (um_handshake_tick(net->node[k]->engine, lossy_time(net), &hs_out) > 0)
					lossy_take(net, k);
	}
	if (a->established > ea && b->established > eb) {
		net->done_ns = net->now_ns;
		return 0;
	}
	return -1;
}

#endif
