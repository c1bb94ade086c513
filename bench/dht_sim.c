/* SPDX-License-Identifier: MIT */
/* The DHT at scale on the simulator (tests/sim/sim.h): N real engines,
 * warm tables, `--lookups`/4 values published (at least 20), then churn
 * (nodes killed without warning), then the lookups from random live honest
 * nodes, 5 ms of virtual time apart. Ends with one line for scripts:
 *
 *   success=P% first_p50_rtt=X first_p99_rtt=X done_p50_rtt=X done_p99_rtt=X
 *   publish_p50_rtt=X msgs_p50=N forged_accepted=N bytes_per_node=N
 *
 * RTT multiples are of the mean simulated round trip (--rtt-ms); msgs are
 * the datagrams a lookup sent and received (pieces included);
 * bytes_per_node is the mean engine memory of the live nodes at the end. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "../tests/sim/sim.h"

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return x < y ? -1 : x > y;
}

static void usage(void)
{
	fprintf(stderr, "usage: bench-dht-sim [--nodes N] [--rtt-ms MS] [--loss PCT] [--churn PCT] [--sybil PCT]\n"
			"                     [--k K] [--alpha A] [--width W] [--paths D] [--lookups L] [--seed S]\n");
	exit(2);
}

int main(int argc, char **argv)
{
	struct um_sim_config c = {.nodes = 10000, .rtt_ms = 100, .seed = 1};
	double churn = 0;
	unsigned lookups = 1000;
	struct um_sim *sim;
	struct um_sim_result r;

	for (int i = 1; i < argc; i++) {
		if (i + 1 >= argc)
			usage();
		const char *a = argv[i], *v = argv[++i];
		if (!strcmp(a, "--nodes"))
			c.nodes = (unsigned)atoi(v);
		else if (!strcmp(a, "--rtt-ms"))
			c.rtt_ms = atof(v);
		else if (!strcmp(a, "--loss"))
			c.loss_pct = atof(v);
		else if (!strcmp(a, "--churn"))
			churn = atof(v);
		else if (!strcmp(a, "--sybil"))
			c.sybil_pct = atof(v);
		else if (!strcmp(a, "--k"))
			c.k = (unsigned)atoi(v);
		else if (!strcmp(a, "--alpha"))
			c.alpha = (unsigned)atoi(v);
		else if (!strcmp(a, "--width"))
			c.bucket_width = (unsigned)atoi(v);
		else if (!strcmp(a, "--paths"))
			c.disjoint_paths = (unsigned)atoi(v);
		else if (!strcmp(a, "--lookups"))
			lookups = (unsigned)atoi(v);
		else if (!strcmp(a, "--seed"))
			c.seed = strtoull(v, NULL, 10);
		else
			usage();
	}
	clock_t t0 = clock();
	if (um_sim_create(&sim, &c)) {
		fprintf(stderr, "bench-dht-sim: bad configuration\n");
		return 1;
	}
	unsigned publishes = lookups / 4 > 20 ? lookups / 4 : 20;
	um_sim_publish(sim, publishes);
	um_sim_churn(sim, churn);
	um_sim_lookups(sim, lookups, 5);
	um_sim_result(sim, &r);
	/* Cold starts: a node with an empty table and one bootstrap address. */
	double cold[20], boot[20];
	unsigned n_cold = 0, cold_found = 0, cold_contacts = 0;
	for (unsigned i = 0; i < 20; i++) {
		struct um_sim_cold cr;
		if (um_sim_cold_lookup(sim, &cr))
			break;
		cold[n_cold] = cr.total_rtt - cr.bootstrap_rtt;
		boot[n_cold++] = cr.bootstrap_rtt;
		cold_found += cr.found;
		cold_contacts += cr.contacts;
	}
	qsort(cold, n_cold, sizeof(double), cmp_double);
	qsort(boot, n_cold, sizeof(double), cmp_double);
	if (n_cold)
		printf("cold starts=%u found=%u contacts_mean=%u done_minus_bootstrap_rtt p50=%.2f max=%.2f "
		       "bootstrap_rtt p50=%.2f\n",
		       n_cold, cold_found, cold_contacts / n_cold, cold[n_cold / 2], cold[n_cold - 1],
		       boot[n_cold / 2]);
	struct um_dht_stats st;
	um_sim_stats(sim, &st);
	printf("nodes=%u rtt_ms=%.0f loss=%.1f%% churn=%.0f%% sybil=%.0f%% k=%u alpha=%u width=%u paths=%u lookups=%u "
	       "seed=%llu cpu_s=%.1f\n",
	       c.nodes, c.rtt_ms, c.loss_pct, churn, c.sybil_pct, c.k ? c.k : 8, c.alpha ? c.alpha : 3,
	       c.bucket_width ? c.bucket_width : 4, c.disjoint_paths ? c.disjoint_paths : 1, lookups,
	       (unsigned long long)c.seed, (double)(clock() - t0) / CLOCKS_PER_SEC);
	printf("unfinished=%u publishes=%u ok=%u publish_p99_rtt=%.2f msgs_p99=%u datagrams_p50=%u stale_final=%u "
	       "datagrams=%llu "
	       "lost=%llu "
	       "to_dead=%llu\n",
	       r.unfinished, r.publishes, r.publish_ok, r.publish_p99, r.msgs_p99, r.datagrams_p50, r.stale_final,
	       (unsigned long long)r.datagrams, (unsigned long long)r.dropped_loss, (unsigned long long)r.dropped_dead);
	printf("engine: timeouts=%llu values_invalid=%llu values_stale=%llu store_invalid=%llu store_stale=%llu "
	       "store_no_cookie=%llu store_rate_limited=%llu proofs_verified=%llu contacts_evicted=%llu "
	       "amplification_capped=%llu output_deferred=%llu reassembly_dropped=%llu store_assembly_dropped=%llu "
	       "store_accepted=%llu\n",
	       (unsigned long long)st.timeouts, (unsigned long long)st.values_invalid,
	       (unsigned long long)st.values_stale, (unsigned long long)st.store_invalid,
	       (unsigned long long)st.store_stale, (unsigned long long)st.store_no_cookie,
	       (unsigned long long)st.store_rate_limited, (unsigned long long)st.proofs_verified,
	       (unsigned long long)st.contacts_evicted, (unsigned long long)st.amplification_capped,
	       (unsigned long long)st.output_deferred, (unsigned long long)st.reassembly_dropped,
	       (unsigned long long)st.store_assembly_dropped, (unsigned long long)st.store_accepted);
	printf("success=%.2f%% first_p50_rtt=%.2f first_p99_rtt=%.2f done_p50_rtt=%.2f done_p99_rtt=%.2f "
	       "publish_p50_rtt=%.2f msgs_p50=%u forged_accepted=%u bytes_per_node=%zu\n",
	       r.lookups ? 100.0 * r.succeeded / r.lookups : 0, r.first_p50, r.first_p99, r.done_p50, r.done_p99,
	       r.publish_p50, r.msgs_p50, r.forged_accepted, r.bytes_per_node);
	um_sim_destroy(sim);
	return 0;
}
