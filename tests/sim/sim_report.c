/* SPDX-License-Identifier: MIT */
/* The simulator's results: percentiles in RTT multiples, accessors. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sim_internal.h"

/* ---- results ------------------------------------------------------------------- */

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return x < y ? -1 : x > y;
}

static double pct(double *v, unsigned n, double p)
{
	if (!n)
		return 0;
	qsort(v, n, sizeof(*v), cmp_double);
	unsigned i = (unsigned)(p / 100.0 * n);
	if ((double)i < p / 100.0 * n)
		i++; /* nearest rank: ceil(p * n) */
	return v[i ? i - 1 : 0];
}

void um_sim_result(struct um_sim *s, struct um_sim_result *r)
{
	double *first = calloc(s->n_ops + 1, sizeof(double)), *done = calloc(s->n_ops + 1, sizeof(double));
	double *pub = calloc(s->n_ops + 1, sizeof(double)), *msgs = calloc(s->n_ops + 1, sizeof(double));
	double *dgrams = calloc(s->n_ops + 1, sizeof(double));
	unsigned nf = 0, nd = 0, np = 0;
	double rtt = s->cfg.rtt_ms * (double)MS;
	memset(r, 0, sizeof(*r));
	if (!first || !done || !pub || !msgs || !dgrams)
		abort();
	for (unsigned i = 0; i < s->n_ops; i++) {
		struct sim_op *op = &s->ops[i];
		const struct sim_value *v = &s->values[op->value];
		if (op->kind == OP_COLD)
			continue;
		if (!op->done)
			r->unfinished++;
		if (op->kind == OP_PUT) {
			r->publishes++;
			if (op->done && op->storers > 0) {
				r->publish_ok++;
				pub[np++] = (double)op->done_ns / rtt;
			}
			continue;
		}
		r->lookups++;
		if (op->forged)
			r->forged_accepted++;
		if (op->done && op->best_seq && op->best_seq < v->sequence) {
			r->stale_final++;
			r->forged_accepted++;
		}
		if (getenv("SIM_DEBUG") && !(op->found && op->best_seq == v->sequence))
			fprintf(stderr, "fail node=%u done=%d found=%d best=%llu want=%llu msgs=%u done_ns=%.2f\n",
				op->node, op->done, op->found, (unsigned long long)op->best_seq,
				(unsigned long long)v->sequence, op->messages, (double)op->done_ns / rtt);
		if (op->found && op->best_seq == v->sequence) {
			r->succeeded++;
			first[nf++] = (double)op->first_ns / rtt;
		}
		if (op->done) {
			done[nd] = (double)op->done_ns / rtt;
			dgrams[nd] = op->datagrams;
			msgs[nd++] = op->messages;
		}
	}
	r->first_p50 = pct(first, nf, 50);
	r->first_p99 = pct(first, nf, 99);
	r->done_p50 = pct(done, nd, 50);
	r->done_p99 = pct(done, nd, 99);
	r->publish_p50 = pct(pub, np, 50);
	r->publish_p99 = pct(pub, np, 99);
	r->msgs_p50 = (unsigned)pct(msgs, nd, 50);
	r->msgs_p99 = (unsigned)pct(msgs, nd, 99);
	r->datagrams_p50 = (unsigned)pct(dgrams, nd, 50);
	size_t mem = 0;
	unsigned live = 0;
	for (unsigned i = 0; i < s->cfg.nodes; i++)
		if (s->nodes[i].alive) {
			mem += um_dht_memory(s->nodes[i].dht);
			live++;
		}
	r->bytes_per_node = live ? mem / live : 0;
	r->datagrams = s->datagrams;
	r->dropped_loss = s->dropped_loss;
	r->dropped_dead = s->dropped_dead;
	free(first);
	free(done);
	free(pub);
	free(msgs);
	free(dgrams);
}

unsigned um_sim_nodes(const struct um_sim *s)
{
	return s->cfg.nodes;
}

struct um_dht *um_sim_engine(struct um_sim *s, unsigned i)
{
	return s->nodes[i].dht;
}

bool um_sim_alive(const struct um_sim *s, unsigned i)
{
	return s->nodes[i].alive;
}

bool um_sim_is_sybil(const struct um_sim *s, unsigned i)
{
	return s->nodes[i].sybil;
}

uint64_t um_sim_now(const struct um_sim *s)
{
	return s->now;
}

void um_sim_stats(const struct um_sim *s, struct um_dht_stats *sum)
{
	memset(sum, 0, sizeof(*sum));
	for (unsigned i = 0; i < s->cfg.nodes; i++) {
		if (!s->nodes[i].alive || s->nodes[i].sybil)
			continue;
		const uint64_t *a = (const uint64_t *)um_dht_stats(s->nodes[i].dht);
		uint64_t *b = (uint64_t *)sum;
		for (size_t f = 0; f < sizeof(*sum) / sizeof(uint64_t); f++)
			b[f] += a[f];
	}
}
