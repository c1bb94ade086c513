/* SPDX-License-Identifier: MIT */
/* umbra dht status | lookup PEER | get KEY | put KEY VALUE | put self
 * [-W TIMEOUT_MS]: the node's DHT (node/dht.h). status prints the table,
 * the store, our record and the last lookups; lookup finds a peer's record
 * by name or peer ID (sealed ones opened with the network key); get shows
 * what is stored under a 64-hex-digit key (a sealed record stays sealed
 * without the key); put stores a value (hex, e.g. a record from get) or
 * republishes our own record. The daemon answers a start with id=N; the
 * result is polled (dht-result=N) until done. Exit 1 when nothing was
 * found or stored. */
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

static int usage(void)
{
	fprintf(stderr, "usage: umbra [--socket PATH] [--json] dht status\n"
			"       umbra dht lookup PEER [-W TIMEOUT_MS]     (a peer's name or ID)\n"
			"       umbra dht get KEY [-W TIMEOUT_MS]         (64 hex digits)\n"
			"       umbra dht put KEY VALUE|self [-W TIMEOUT_MS]  (VALUE in hex)\n");
	return 2;
}

/* Prints the key=value lines of a reply but errno and json; "key: value"
 * with blocks (contact=, recent=) indented under their first line. */
static void print_lines(char *reply)
{
	char *cursor = reply, *key, *value;

	while (um_control_next(&cursor, &key, &value)) {
		if (!strcmp(key, "errno") || !strcmp(key, "json"))
			continue;
		bool block = !strcmp(key, "contact") || !strcmp(key, "recent");
		bool inner = !block && (strstr(key, "srtt") || !strcmp(key, "addr") || !strcmp(key, "bucket") ||
					!strcmp(key, "rto_ms") || !strcmp(key, "seen_ms") || !strcmp(key, "failures"));
		printf("%s%-22s %s\n", inner ? "    " : "", key, value);
	}
}

static int print_json(char *reply)
{
	char *cursor = reply, *key, *value;

	while (um_control_next(&cursor, &key, &value))
		if (!strcmp(key, "json")) {
			printf("%s\n", value);
			return 0;
		}
	return -1;
}

static int status(void)
{
	char *reply;

	if (um_cli_request(um_cli.json ? "dht=json\n\n" : "dht=status\n\n", &reply))
		return 1;
	if (um_cli.json)
		print_json(reply);
	else
		print_lines(reply);
	free(reply);
	return 0;
}

/* Sends request (a start), then polls its result. */
static int run(const char *request, unsigned timeout_ms)
{
	char *reply, poll[64];
	struct um_status s;
	unsigned long long id = 0;
	int found = 0;

	if (um_cli_request(request, &reply))
		return 1;
	if (um_status_parse(&s, reply) == 0) {
		id = um_status_u64(&s.node, "id", 0);
		um_status_free(&s);
	}
	free(reply);
	if (!id) {
		fprintf(stderr, "umbra: the daemon started no operation\n");
		return 1;
	}
	snprintf(poll, sizeof(poll), "dht-result=%llu\n\n", id);
	for (unsigned waited = 0;; waited += 20) {
		if (um_cli_request(poll, &reply))
			return 1;
		char *copy = strdup(reply);
		const char *state = NULL, *ok = NULL;
		if (copy && um_status_parse(&s, copy) == 0) {
			state = um_status_get(&s.node, "state");
			ok = um_status_get(&s.node, "found");
			if (!ok)
				ok = um_status_get(&s.node, "storers");
			if (state && !strcmp(state, "done"))
				found = ok && strcmp(ok, "0");
			bool done = state && !strcmp(state, "done");
			um_status_free(&s);
			if (done || waited >= timeout_ms) {
				if (!done && !um_cli.json)
					printf("still running after %u ms\n", timeout_ms);
				if (um_cli.json)
					print_json(reply);
				else
					print_lines(reply);
				free(copy);
				free(reply);
				return found ? 0 : 1;
			}
		}
		free(copy);
		free(reply);
		sleep_ms(20);
	}
}

static int put(const char *key, const char *value, unsigned timeout_ms)
{
	size_t len = strlen(value), cap = 64 + strlen(key) + len + len / 240 * 8 + 16;
	char *request = malloc(cap);
	int r;

	if (!request)
		return 1;
	if (!strcmp(key, "self") || !strcmp(value, "self")) {
		snprintf(request, cap, "dht-put=self\n\n");
	} else {
		size_t used = (size_t)snprintf(request, cap, "dht-put=%s\n", key);
		/* value= lines within the control socket's line limit. */
		for (size_t i = 0; i < len; i += 240)
			used += (size_t)snprintf(request + used, cap - used, "value=%.*s\n",
						 (int)(len - i < 240 ? len - i : 240), value + i);
		snprintf(request + used, cap - used, "\n");
	}
	r = run(request, timeout_ms);
	free(request);
	return r;
}

int dht_main(int argc, char **argv)
{
	const char *args[3] = {NULL};
	unsigned n = 0, timeout_ms = 10000;

	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "-W") && i + 1 < argc)
			timeout_ms = (unsigned)strtoul(argv[++i], NULL, 10);
		else if (!strcmp(argv[i], "--json"))
			um_cli.json = true;
		else if (n < 3 && strlen(argv[i]) < 20000)
			args[n++] = argv[i];
		else
			return usage();
	}
	if (n == 0 || (n == 1 && !strcmp(args[0], "status")))
		return status();
	char request[160];
	if (n == 2 && !strcmp(args[0], "lookup") && strlen(args[1]) < 100) {
		snprintf(request, sizeof(request), "dht-lookup=%s\n\n", args[1]);
		return run(request, timeout_ms);
	}
	if (n == 2 && !strcmp(args[0], "get") && strlen(args[1]) == 64) {
		snprintf(request, sizeof(request), "dht-get=%s\n\n", args[1]);
		return run(request, timeout_ms);
	}
	if (n == 2 && !strcmp(args[0], "put") && !strcmp(args[1], "self"))
		return put("self", "self", timeout_ms);
	if (n == 3 && !strcmp(args[0], "put") && strlen(args[1]) == 64)
		return put(args[1], args[2], timeout_ms);
	return usage();
}
