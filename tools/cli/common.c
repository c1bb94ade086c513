/* SPDX-License-Identifier: MIT */
/* What every control-plane command of the CLI shares: one request to the
 * daemon, the get=1 reply parsed into blocks, the daemon's JSON, and the
 * formats of ages and RTTs. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/commands.h"
#include "ctl/client.h"
#include "util/error.h"

enum { CLI_TIMEOUT_MS = 5000 };

int um_cli_request(const char *request, char **reply)
{
	int status = 0;
	int r = um_control_call(um_cli.socket_path, request, CLI_TIMEOUT_MS, reply, &status);

	if (r) {
		fprintf(stderr, "umbra: %s: %s%s\n", um_cli.socket_path, um_strerror(r),
			r == -ENOENT || r == -ECONNREFUSED ? " (is umbrad running?)" : "");
		return r;
	}
	if (status) {
		fprintf(stderr, "umbra: the daemon refused: %s\n", um_strerror(status));
		free(*reply);
		*reply = NULL;
		return -status;
	}
	return 0;
}

int um_cli_fetch(struct um_status *status, char **reply)
{
	int r = um_cli_request("get=1\n\n", reply);

	if (r)
		return r;
	r = um_status_parse(status, *reply);
	if (r) {
		free(*reply);
		*reply = NULL;
	}
	return r;
}

int um_cli_print_json(const char *request)
{
	char *reply, *cursor, *key, *value;
	int r = um_cli_request(request, &reply);

	if (r)
		return r;
	cursor = reply;
	r = -UM_EINVAL;
	while (um_control_next(&cursor, &key, &value)) {
		if (!strcmp(key, "json")) {
			printf("%s\n", value);
			r = 0;
			break;
		}
	}
	if (r)
		fprintf(stderr, "umbra: the daemon sent no JSON (an older umbrad?)\n");
	free(reply);
	return r;
}

int um_cli_positional(int argc, char **argv, const char **args, int max)
{
	int n = 0;

	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--json"))
			um_cli.json = true;
		else if (n < max)
			args[n++] = argv[i];
		else
			return -1;
	}
	return n;
}

const char *um_cli_or_dash(const char *s)
{
	return s ? s : "-";
}

/* "3.2s", "4m 10s", "never". */
void um_cli_format_age(char *out, size_t size, const struct um_status_block *b, const char *key)
{
	unsigned long long ms = um_status_u64(b, key, ~0ULL);

	if (ms == ~0ULL)
		snprintf(out, size, "never");
	else if (ms < 60000)
		snprintf(out, size, "%llu.%llus ago", ms / 1000, ms % 1000 / 100);
	else if (ms < 3600000)
		snprintf(out, size, "%llum %llus ago", ms / 60000, ms / 1000 % 60);
	else
		snprintf(out, size, "%lluh %llum ago", ms / 3600000, ms / 60000 % 60);
}

void um_cli_format_rtt(char *out, size_t size, const struct um_status_block *b)
{
	unsigned long long us = um_status_u64(b, "rtt_us", ~0ULL);
	unsigned long long bound = um_status_u64(b, "rtt_bound_us", ~0ULL);

	if (us != ~0ULL)
		snprintf(out, size, "%llu.%03llu ms", us / 1000, us % 1000);
	else if (bound != ~0ULL)
		snprintf(out, size, "<%llu.%llu ms", bound / 1000, bound % 1000 / 100);
	else
		snprintf(out, size, "-");
}
