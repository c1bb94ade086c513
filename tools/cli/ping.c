/* SPDX-License-Identifier: MIT */
/* umbra ping PEER [-c COUNT] [-i INTERVAL_MS] [-W TIMEOUT_MS]: path probes
 * to a peer over the path in use; each answer says which path carried it
 * (direct, relay or relay-tcp) and its round-trip time. The daemon sends the probe
 * (ping=PEER) and records the answer in the peer's status, polled here. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cli/commands.h"
#include "ctl/client.h"

static void sleep_ms(unsigned ms)
{
	struct timespec ts = {.tv_sec = ms / 1000, .tv_nsec = (long)(ms % 1000) * 1000000L};
	nanosleep(&ts, NULL);
}

static const struct um_status_block *find_peer(const struct um_status *s, const char *name)
{
	for (size_t i = 0; i < s->n_peers; i++) {
		const char *n = um_status_get(&s->peers[i], "peer");
		if (n && !strcmp(n, name))
			return &s->peers[i];
	}
	return NULL;
}

/* 1 answered (fields printed), 0 not yet, -1 error. */
static int poll_answer(const char *name, unsigned long long sequence, unsigned count_done)
{
	struct um_status s;
	char *reply;
	int result = 0;

	if (um_cli_fetch(&s, &reply))
		return -1;
	const struct um_status_block *p = find_peer(&s, name);
	if (!p) {
		result = -1;
	} else if (um_status_u64(p, "ping_answered", 0) >= sequence) {
		unsigned long long us = um_status_u64(p, "ping_rtt_us", 0);
		const char *path = um_status_get(p, "ping_path"), *from = um_status_get(p, "ping_from");
		const char *peer_path = um_status_get(p, "path");
		if (path && !strcmp(path, "relay") && peer_path && !strcmp(peer_path, "relay-tcp")) {
			/* Through a wss:// relay: the answer came via the local proxy. */
			path = "relay-tcp";
			from = um_status_get(p, "relay");
		}
		if (um_cli.json)
			printf("{\"peer\":\"%s\",\"seq\":%u,\"path\":\"%s\",\"from\":\"%s\",\"rtt_us\":%llu}\n", name,
			       count_done, path ? path : "?", from ? from : "?", us);
		else
			printf("pong from %s via %s (%s) in %llu.%03llu ms\n", name, path ? path : "?",
			       from ? from : "?", us / 1000, us % 1000);
		result = 1;
	}
	um_status_free(&s);
	free(reply);
	return result;
}

int ping_main(int argc, char **argv)
{
	const char *name = NULL;
	unsigned count = 1, interval_ms = 200, timeout_ms = 1000, answered = 0;
	char request[128];

	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "-c") && i + 1 < argc)
			count = (unsigned)strtoul(argv[++i], NULL, 10);
		else if (!strcmp(argv[i], "-i") && i + 1 < argc)
			interval_ms = (unsigned)strtoul(argv[++i], NULL, 10);
		else if (!strcmp(argv[i], "-W") && i + 1 < argc)
			timeout_ms = (unsigned)strtoul(argv[++i], NULL, 10);
		else if (!strcmp(argv[i], "--json"))
			um_cli.json = true;
		else if (argv[i][0] != '-' && !name)
			name = argv[i];
		else
			name = NULL, i = argc;
	}
	if (!name || !count || strlen(name) > 64) {
		fprintf(stderr, "usage: umbra [--socket PATH] ping PEER [-c COUNT] [-i INTERVAL_MS] [-W TIMEOUT_MS]\n");
		return 2;
	}
	snprintf(request, sizeof(request), "ping=%s\n\n", name);
	for (unsigned n = 1; n <= count; n++) {
		struct um_status s;
		char *reply;
		unsigned long long sequence = 0;
		if (um_cli_request(request, &reply))
			return 1;
		if (um_status_parse(&s, reply) == 0) {
			sequence = um_status_u64(&s.node, "ping_sequence", 0);
			um_status_free(&s);
		}
		free(reply);
		int r = 0;
		for (unsigned waited = 0; waited <= timeout_ms && r == 0; waited += 5) {
			r = poll_answer(name, sequence, n);
			if (r == 0)
				sleep_ms(5);
		}
		if (r < 0)
			return 1;
		if (r == 0 && !um_cli.json)
			printf("no answer from %s within %u ms\n", name, timeout_ms);
		answered += r == 1;
		if (n < count)
			sleep_ms(interval_ms);
	}
	return answered ? 0 : 1;
}
