/* SPDX-License-Identifier: MIT */
/* umbra peers: everything the daemon knows about each peer. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/commands.h"
#include "ctl/client.h"

static void print_peer(const struct um_status_block *p)
{
	char age[32], rtt[32];

	um_cli_format_age(age, sizeof(age), p, "last_handshake_age_ms");
	um_cli_format_rtt(rtt, sizeof(rtt), p);
	printf("peer \"%s\"\n", um_cli_or_dash(um_status_get(p, "peer")));
	printf("  id:             %s\n", um_cli_or_dash(um_status_get(p, "id")));
	printf("  endpoint:       %s\n", um_cli_or_dash(um_status_get(p, "endpoint")));
	printf("  found:          %s\n", um_cli_or_dash(um_status_get(p, "found")));
	if (um_status_get(p, "path"))
		printf("  path:           %s%s%s\n", um_status_get(p, "path"), um_status_get(p, "relay") ? " via " : "",
		       um_status_get(p, "relay") ? um_status_get(p, "relay") : "");
	printf("  state:          %s\n", um_cli_or_dash(um_status_get(p, "state")));
	printf("  allowed ips:   ");
	bool any = false;
	for (size_t i = 0; i < p->n_fields; i++) {
		if (!strcmp(p->fields[i].key, "allowed_ip")) {
			printf("%s %s", any ? "," : "", p->fields[i].value);
			any = true;
		}
	}
	printf("%s\n", any ? "" : " (none)");
	printf("  last handshake: %s (%llu completed, %llu key rotations)\n", age, um_status_u64(p, "handshakes", 0),
	       um_status_u64(p, "rekeys", 0));
	printf("  rtt:            %s\n", rtt);
	if (um_status_get(p, "setup_role")) {
		char took[48] = "", reply[48] = "", total[48] = "";
		if (um_status_get(p, "setup_ms"))
			snprintf(took, sizeof(took), "%llu ms, ", um_status_u64(p, "setup_ms", 0));
		if (um_status_get(p, "setup_total_ms") && um_status_u64(p, "setup_initiations", 0) > 1)
			snprintf(total, sizeof(total), " (%llu ms in all)", um_status_u64(p, "setup_total_ms", 0));
		if (um_status_get(p, "setup_first_reply_ms"))
			snprintf(reply, sizeof(reply), "first reply %llu ms, ",
				 um_status_u64(p, "setup_first_reply_ms", 0));
		printf("  setup:          %s%sas %s, %llu initiation(s) of ours%s, %llu handshake datagrams resent\n",
		       took, reply, um_status_get(p, "setup_role"), um_status_u64(p, "setup_initiations", 0), total,
		       um_status_u64(p, "handshake_retransmitted_datagrams", 0));
	}
	if (um_status_get(p, "transport"))
		printf("  transport:      %s\n", um_status_get(p, "transport"));
	printf("  transfer:       %llu B / %llu packets received, %llu B / %llu packets sent\n",
	       um_status_u64(p, "rx_bytes", 0), um_status_u64(p, "rx_packets", 0), um_status_u64(p, "tx_bytes", 0),
	       um_status_u64(p, "tx_packets", 0));
	printf("  dropped:        bad MAC %llu, replay %llu, malformed %llu, not allowed %llu\n",
	       um_status_u64(p, "drop_bad_mac", 0), um_status_u64(p, "drop_replay", 0),
	       um_status_u64(p, "drop_malformed", 0), um_status_u64(p, "drop_not_allowed", 0));
	if (um_status_u64(p, "keepalive", 0))
		printf("  keepalive:      every %llu s\n", um_status_u64(p, "keepalive", 0));
}

int peers_main(int argc, char **argv)
{
	struct um_status s;
	char *reply;

	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--json")) {
			um_cli.json = true;
		} else {
			fprintf(stderr, "usage: umbra [--socket PATH] peers [--json]\n");
			return 2;
		}
	}
	if (um_cli.json)
		return um_cli_print_json("get=json-peers\n\n") ? 1 : 0;
	if (um_cli_fetch(&s, &reply))
		return 1;
	for (size_t i = 0; i < s.n_peers; i++) {
		if (i)
			printf("\n");
		print_peer(&s.peers[i]);
	}
	if (!s.n_peers)
		printf("no peers configured\n");
	um_status_free(&s);
	free(reply);
	return 0;
}
