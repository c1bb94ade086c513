/* SPDX-License-Identifier: MIT */
/* umbra: the command-line interface. A table of subcommands, each in its own
 * file under tools/cli/; global options come before the subcommand. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/commands.h"
#include "um_config.h"

#define UM_DEFAULT_SOCKET "/run/umbra/umbrad.sock"

struct um_cli_globals um_cli = {.socket_path = UM_DEFAULT_SOCKET};

static const struct {
	const char *name;
	int (*main)(int argc, char **argv);
	const char *description;
} subcommands[] = {
    {"selftest", selftest_main, "Run the built-in crypto self-test"},
    {"status", status_main, "Show the node and a summary of its peers"},
    {"peers", peers_main, "Show every peer in detail (counters, drops, RTT)"},
    {"up", up_main, "Bring the device and tunnels up"},
    {"down", down_main, "Close the tunnels and take the device down"},
    {"dht", dht_main, "The DHT: status, lookup PEER, get KEY, put KEY VALUE (for tests)"},
    {"ping", ping_main, "Probe a peer: which path answers (direct or relay) and the RTT"},
    {"send", send_main, "Send a text message to a peer (stored until delivered)"},
    {"inbox", inbox_main, "Messages both ways; --follow: new messages, receipts and events as they come"},
    {"read", read_main, "Mark a received message read (its sender gets a read receipt)"},
    {"file", file_main, "Files: send PEER PATH (with progress), list, accept ID, reject ID"},
    {"presence", presence_main, "Presence of this node and its peers; set STATE [TEXT]"},
    {"keygen", keygen_main, "Generate a private identity file"},
    {"pubkey", pubkey_main, "Print the public identity and peer ID of an identity file"},
    {"network-key", network_key_main, "Generate a private network's key file"},
};

static void usage(FILE *f)
{
	fprintf(f, "usage: umbra [--socket PATH] [--json] <command> [args]\n"
		   "       umbra --version | --help\n\ncommands:\n");
	for (size_t i = 0; i < sizeof(subcommands) / sizeof(subcommands[0]); i++)
		fprintf(f, "  %-10s %s\n", subcommands[i].name, subcommands[i].description);
}

int main(int argc, char **argv)
{
	int i = 1;

	for (; i < argc && argv[i][0] == '-'; i++) {
		if (!strcmp(argv[i], "--version")) {
			printf("umbra %s\n", UM_VERSION);
			return 0;
		} else if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
			usage(stdout);
			return 0;
		} else if (!strcmp(argv[i], "--json")) {
			um_cli.json = true;
		} else if (!strcmp(argv[i], "--socket") && i + 1 < argc) {
			um_cli.socket_path = argv[++i];
		} else {
			fprintf(stderr, "umbra: unknown option '%s'\n", argv[i]);
			usage(stderr);
			return 2;
		}
	}
	if (i == argc) {
		usage(stderr);
		return 2;
	}
	for (size_t c = 0; c < sizeof(subcommands) / sizeof(subcommands[0]); c++) {
		if (!strcmp(argv[i], subcommands[c].name))
			return subcommands[c].main(argc - i, argv + i);
	}
	fprintf(stderr, "umbra: unknown command '%s'\n", argv[i]);
	usage(stderr);
	return 2;
}
