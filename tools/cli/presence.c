/* SPDX-License-Identifier: MIT */
/* umbra presence: ours and each peer's (state, status text, last seen);
 * umbra presence set STATE [TEXT]: ours, sent to every peer with a session
 * now and to the others when they connect (node/messaging.h). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/commands.h"
#include "cli/message.h"
#include "ctl/client.h"

static int usage(void)
{
	fprintf(stderr, "usage: umbra [--json] presence\n"
			"       umbra presence set online|away|busy|offline [TEXT]   (TEXT: up to 256 bytes)\n");
	return 2;
}

static void print_block(const char *who, const struct um_status_block *b, const char *state_key, const char *text_key)
{
	char seen[32];
	const char *text = um_status_get(b, text_key);

	printf("%-16s %-8s", who, um_cli_or_dash(um_status_get(b, state_key)));
	if (strcmp(who, "(this node)")) {
		um_cli_format_time_ms(seen, sizeof(seen), um_status_u64(b, "last_seen_ms", 0));
		printf(" last seen %-19s", seen);
	}
	if (text && text[0]) {
		printf("  ");
		um_cli_print_pct(stdout, text);
	}
	printf("\n");
}

static int show(void)
{
	struct um_status s;
	char *reply;

	if (um_cli.json)
		return um_cli_print_json("presence=json\n\n") ? 1 : 0;
	if (um_cli_request("presence=get\n\n", &reply))
		return 1;
	if (um_status_parse(&s, reply)) {
		free(reply);
		return 1;
	}
	print_block("(this node)", &s.node, "self_state", "self_text");
	for (size_t i = 0; i < s.n_peers; i++)
		print_block(um_cli_or_dash(um_status_get(&s.peers[i], "peer")), &s.peers[i], "state", "text");
	um_status_free(&s);
	free(reply);
	return 0;
}

static int set(const char *state, const char *text)
{
	char *request, *reply = NULL;
	size_t used, cap = 128;
	int r = 1;

	if (strcmp(state, "online") && strcmp(state, "away") && strcmp(state, "busy") && strcmp(state, "offline"))
		return usage();
	if (text && strlen(text) > 256) {
		fprintf(stderr, "umbra: a status text holds at most 256 bytes\n");
		return 1;
	}
	request = malloc(cap);
	if (!request)
		return 1;
	used = (size_t)snprintf(request, cap, "presence=set\nstate=%s\n", state);
	if (text && text[0] && um_cli_build_pct(&request, &used, &cap, "text", text, strlen(text)))
		goto out;
	request[used++] = '\n';
	request[used] = '\0';
	if (um_cli_request(request, &reply))
		goto out;
	if (um_cli.json)
		printf("{\"state\":\"%s\"}\n", state);
	r = 0;
out:
	free(request);
	free(reply);
	return r;
}

int presence_main(int argc, char **argv)
{
	const char *args[3] = {NULL};
	int n = um_cli_positional(argc, argv, args, 3);

	if (n < 0)
		return usage();
	if (n == 0)
		return show();
	if ((n == 2 || n == 3) && !strcmp(args[0], "set"))
		return set(args[1], n == 3 ? args[2] : NULL);
	return usage();
}
