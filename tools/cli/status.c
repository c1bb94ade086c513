/* SPDX-License-Identifier: MIT */
/* umbra status: the node and a one-line summary per peer, or (--json) the
 * JSON document the daemon renders. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/commands.h"
#include "ctl/client.h"

/* relay_* keys of the raw reply (modified in place) into block. */
static void collect_relay(struct um_status_block *b, char *raw)
{
	char *cursor = raw, *key, *value;

	b->n_fields = 0;
	while (um_control_next(&cursor, &key, &value) && strcmp(key, "peer") && strcmp(key, "errno"))
		if (!strncmp(key, "relay_", 6) && b->n_fields < UM_STATUS_FIELDS_MAX)
			b->fields[b->n_fields++] = (struct um_status_field){key, value};
}

/* One line per configured relay (raw reply, modified in place). */
static void print_uplinks(char *raw)
{
	char *cursor = raw, *key, *value;
	bool open = false;

	while (um_control_next(&cursor, &key, &value) && strcmp(key, "peer") && strcmp(key, "errno")) {
		if (!strcmp(key, "uplink")) {
			printf("%s  relay %-22s", open ? "\n" : "", value);
			open = true;
		} else if (open && !strcmp(key, "uplink_state")) {
			printf(" %-12s", value);
		} else if (open && !strcmp(key, "uplink_rtt_us")) {
			unsigned long long us = strtoull(value, NULL, 10);
			printf(" rtt %llu.%03llu ms", us / 1000, us % 1000);
		} else if (open && !strcmp(key, "uplink_observed")) {
			printf(" we are %s", value);
		}
	}
	if (open)
		printf("\n");
}

int status_main(int argc, char **argv)
{
	struct um_status s;
	char *reply, *raw;
	int r;

	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--json")) {
			um_cli.json = true;
		} else {
			fprintf(stderr, "usage: umbra [--socket PATH] status [--json]\n");
			return 2;
		}
	}
	if (um_cli.json)
		return um_cli_print_json("get=json\n\n") ? 1 : 0;
	if ((r = um_cli_request("get=1\n\n", &raw)))
		return 1;
	reply = strdup(raw);
	if (!reply || um_status_parse(&s, reply)) {
		fprintf(stderr, "umbra: out of memory\n");
		free(reply);
		free(raw);
		return 1;
	}
	bool relay_only = !strcmp(um_cli_or_dash(um_status_get(&s.node, "mode")), "relay");
	if (relay_only || strstr(raw, "\nrelay_port=")) {
		struct um_status_block rb;
		const struct um_status_block *n = &rb;
		char *copy = strdup(raw);
		if (!copy) {
			fprintf(stderr, "umbra: out of memory\n");
			goto out;
		}
		collect_relay(&rb, copy);
		printf("relay on UDP port %s: %llu nodes registered (%llu registrations), %llu packets / %llu B "
		       "forwarded\n",
		       um_cli_or_dash(um_status_get(n, "relay_port")), um_status_u64(n, "relay_registered", 0),
		       um_status_u64(n, "relay_registrations", 0), um_status_u64(n, "relay_forwarded_packets", 0),
		       um_status_u64(n, "relay_forwarded_bytes", 0));
		printf("  dropped: not registered %llu, unknown peer %llu, rate limited %llu, malformed %llu; "
		       "registrations refused: not admitted %llu, bad signature %llu, stale %llu\n",
		       um_status_u64(n, "relay_drop_not_registered", 0), um_status_u64(n, "relay_drop_unknown_peer", 0),
		       um_status_u64(n, "relay_drop_rate_limited_packets", 0) +
			   um_status_u64(n, "relay_drop_rate_limited_bytes", 0),
		       um_status_u64(n, "relay_drop_malformed", 0), um_status_u64(n, "relay_reg_not_admitted", 0),
		       um_status_u64(n, "relay_reg_bad_signature", 0), um_status_u64(n, "relay_reg_stale", 0));
		free(copy);
	}
	if (!relay_only) {
		const struct um_status_block *n = &s.node;
		size_t established = 0;
		for (size_t i = 0; i < s.n_peers; i++)
			established += !strcmp(um_cli_or_dash(um_status_get(&s.peers[i], "state")), "established");
		printf("node %s\n", um_cli_or_dash(um_status_get(n, "node_id")));
		printf("  device %s (%s, %s)  address %s  listening on port %s\n",
		       um_cli_or_dash(um_status_get(n, "device")), um_cli_or_dash(um_status_get(n, "mode")),
		       um_status_u64(n, "up", 0) ? "up" : "down", um_cli_or_dash(um_status_get(n, "address")),
		       um_cli_or_dash(um_status_get(n, "listen_port")));
		printf("  peers: %zu configured, %zu established\n", s.n_peers, established);
		char *copy = strdup(raw);
		if (copy)
			print_uplinks(copy);
		free(copy);
		for (size_t i = 0; i < s.n_peers; i++) {
			const struct um_status_block *p = &s.peers[i];
			char age[32], rtt[32];
			um_cli_format_age(age, sizeof(age), p, "last_handshake_age_ms");
			um_cli_format_rtt(rtt, sizeof(rtt), p);
			printf("  %-12s %-16s %-22s %-12s handshake %-12s rtt %s\n",
			       um_cli_or_dash(um_status_get(p, "peer")), um_cli_or_dash(um_status_get(p, "short_id")),
			       um_cli_or_dash(um_status_get(p, "endpoint")), um_cli_or_dash(um_status_get(p, "state")),
			       age, rtt);
		}
	}
out:
	um_status_free(&s);
	free(reply);
	free(raw);
	return 0;
}
