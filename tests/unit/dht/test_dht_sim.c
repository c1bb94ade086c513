/* SPDX-License-Identifier: MIT */
/* The DHT on the simulator at N = 1,000 (real engines, real identities):
 * a calm network, 30% of the nodes killed without warning, and 20% Sybils
 * that answer with forged, stale or no values and flood STOREs; the same
 * over 3 disjoint paths. Asserts success rates, that every lookup ends,
 * latency goals in virtual time, and that no forged or rolled-back value
 * is accepted. */
#include "../../sim/sim.h"
#include "test.h"

static void run_paths(const char *name, double churn, double sybil, double min_success, unsigned paths)
{
	struct um_sim *sim;
	struct um_sim_result r;
	/* limit_s: a lookup that stalls shows as unfinished instead of
	 * running a virtual hour of refreshes. */
	struct um_sim_config c = {
	    .nodes = 1000, .rtt_ms = 100, .sybil_pct = sybil, .seed = 11, .disjoint_paths = paths, .limit_s = 300};
	CHECK_EQ(um_sim_create(&sim, &c), 0);
	um_sim_publish(sim, 50);
	um_sim_churn(sim, churn);
	um_sim_lookups(sim, 200, 5);
	um_sim_result(sim, &r);
	fprintf(stderr,
		"%s: success %u/%u first p50 %.2f p99 %.2f done p50 %.2f p99 %.2f publish p50 %.2f msgs p50 %u "
		"forged %u memory %zu\n",
		name, r.succeeded, r.lookups, r.first_p50, r.first_p99, r.done_p50, r.done_p99, r.publish_p50,
		r.msgs_p50, r.forged_accepted, r.bytes_per_node);
	CHECK_EQ(r.lookups, 200);
	CHECK_EQ(r.unfinished, 0);
	CHECK(r.succeeded >= min_success * r.lookups);
	CHECK_EQ(r.forged_accepted, 0);
	CHECK(r.publish_ok >= 49);
	/* Virtual time: deterministic for a seed, no slack needed for load.
	 * The goals (done p99 <= 6, <= 12 after churn; messages p50
	 * <= 40; publish about one round trip after a converged lookup). */
	CHECK(r.done_p99 <= (churn > 0 ? 12 : 6));
	CHECK(r.msgs_p50 <= 40 * paths);
	struct um_dht_stats st;
	um_sim_stats(sim, &st);
	/* Honest STOREs carry the storer's cookie from its FIND_NODE answer. */
	if (sybil == 0)
		CHECK_EQ(st.store_no_cookie, 0);
	if (churn == 0 && sybil == 0 && paths == 1) {
		/* Lookup done p50 <= 3 RTT (3.23 at this seed before the k
		 * closest were asked at once and the top buckets widened). */
		CHECK(r.done_p50 <= 3.0);
		CHECK(r.publish_p50 <= r.done_p50 + 1.5);
	}
	if (churn == 0 && sybil == 0 && paths == 1) {
		/* A cold start from one bootstrap address joins with proven
		 * contacts only and finds a value. */
		struct um_sim_cold cold;
		CHECK_EQ(um_sim_cold_lookup(sim, &cold), 0);
		fprintf(stderr, "cold start: %u contacts, join %.2f, done %.2f RTT (bootstrap %.2f)\n", cold.contacts,
			cold.join_rtt, cold.total_rtt, cold.bootstrap_rtt);
		CHECK(cold.found);
		CHECK(cold.contacts >= 8);
		CHECK(cold.total_rtt < 30);
	}
	if (sybil > 0) {
		/* The Sybils' floods reached the nodes and were refused, counted. */
		CHECK(st.store_invalid + st.store_rate_limited + st.store_stale > 0);
		CHECK(st.values_invalid + st.values_stale > 0);
	}
	um_sim_destroy(sim);
}

static void run(const char *name, double churn, double sybil, double min_success)
{
	run_paths(name, churn, sybil, min_success, 1);
}

static void test_calm(void)
{
	run("calm", 0, 0, 0.99);
}

static void test_churn(void)
{
	run("churn 30%", 30, 0, 0.99);
}

static void test_sybil(void)
{
	run("sybil 20%", 0, 20, 0.99);
}

/* S/Kademlia's d = 3 disjoint paths (alpha 3: one request per path):
 * every lookup ends (they stalled at N >= 1,000 when a path's asked
 * candidate left the full candidate list) and finds the value. */
static void test_disjoint_paths(void)
{
	run_paths("3 disjoint paths", 0, 0, 0.99, 3);
}

static void test_disjoint_paths_sybil(void)
{
	run_paths("3 disjoint paths, sybil 20%", 0, 20, 0.99, 3);
}

int main(void)
{
	RUN(test_calm);
	RUN(test_churn);
	RUN(test_sybil);
	RUN(test_disjoint_paths);
	RUN(test_disjoint_paths_sybil);
	return um_test_end();
}
