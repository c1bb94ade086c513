/* SPDX-License-Identifier: MIT */
/* umbra file send PEER PATH | list | accept ID | reject ID [REASON]
 * (node/messaging.h). send offers the file and follows the transfer until
 * it is done, refused or failed: a progress bar (bytes, rate, ETA) on a
 * terminal, a plain line every second otherwise; --json prints one JSON
 * object per second and the last state. A transfer survives the CLI: after
 * Ctrl-C it goes on (file list shows it). */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cli/commands.h"
#include "cli/message.h"
#include "ctl/client.h"
#include "ctl/control.h"
#include "util/clock.h"

static int usage(void)
{
	fprintf(stderr, "usage: umbra [--json] file send PEER PATH\n"
			"       umbra [--json] file list\n"
			"       umbra file accept ID\n"
			"       umbra file reject ID [REASON]\n");
	return 2;
}

static void format_bytes(char *out, size_t size, double bytes)
{
	static const char *const units[] = {"B", "KiB", "MiB", "GiB", "TiB"};
	unsigned u = 0;

	while (bytes >= 1024 && u < 4) {
		bytes /= 1024;
		u++;
	}
	snprintf(out, size, u ? "%.1f %s" : "%.0f %s", bytes, units[u]);
}

/* One file= value: id dir peer state bytes_done size name. */
struct file_row {
	char *f[7];
};

static bool parse_row(char *value, struct file_row *row)
{
	return um_cli_fields(value, row->f, 7) == 7;
}

static int list(void)
{
	char *reply, *cursor, *key, *value;

	if (um_cli.json)
		return um_cli_print_json("file-list=json\n\n") ? 1 : 0;
	if (um_cli_request("file-list=text\n\n", &reply))
		return 1;
	printf("%-32s %-3s %-16s %-9s %21s  %s\n", "ID", "DIR", "PEER", "STATE", "DONE/SIZE", "NAME");
	cursor = reply;
	while (um_control_next(&cursor, &key, &value)) {
		struct file_row row;
		if (strcmp(key, "file") || !parse_row(value, &row))
			continue;
		char done[24], size[24], both[48];
		format_bytes(done, sizeof(done), strtod(row.f[4], NULL));
		format_bytes(size, sizeof(size), strtod(row.f[5], NULL));
		snprintf(both, sizeof(both), "%s/%s", done, size);
		printf("%-32s %-3s %-16s %-9s %21s  ", row.f[0], row.f[1], row.f[2], row.f[3], both);
		um_cli_print_pct(stdout, row.f[6]);
		printf("\n");
	}
	free(reply);
	return 0;
}

static int decide(const char *op, const char *id, const char *reason)
{
	char *request = NULL, *reply = NULL;
	size_t used, cap = 128;
	int r = 1;

	if (strlen(id) != 32)
		return usage();
	request = malloc(cap);
	if (!request)
		return 1;
	used = (size_t)snprintf(request, cap, "file-%s=%s\n", op, id);
	if (reason &&
	    um_cli_build_pct(&request, &used, &cap, "reason", reason, strlen(reason) > 256 ? 256 : strlen(reason)))
		goto out;
	request[used++] = '\n';
	request[used] = '\0';
	if (um_cli_request(request, &reply))
		goto out;
	if (um_cli.json)
		printf("{\"id\":\"%s\",\"%s\":true}\n", id, !strcmp(op, "accept") ? "accepted" : "rejected");
	r = 0;
out:
	free(request);
	free(reply);
	return r;
}

static void sleep_ms(unsigned ms)
{
	struct timespec ts = {.tv_sec = ms / 1000, .tv_nsec = (long)(ms % 1000) * 1000000L};
	nanosleep(&ts, NULL);
}

/* Follows transfer id until a final state; 0 when done. */
static int follow(const char *id)
{
	bool tty = isatty(STDOUT_FILENO) && !um_cli.json;
	uint64_t started = um_now_ns(), last_print = 0, rate_at = started;
	unsigned long long rate_bytes = 0, first_bytes = 0;
	double rate = 0;
	char request[128], last_state[32] = "";

	snprintf(request, sizeof(request), "file-list=text\nid=%s\n\n", id);
	for (;;) {
		char *reply, *cursor, *key, *value;
		struct file_row row;
		bool found = false;
		if (um_cli_request(request, &reply))
			return 1;
		cursor = reply;
		while (um_control_next(&cursor, &key, &value))
			if (!strcmp(key, "file") && parse_row(value, &row)) {
				found = true;
				break;
			}
		if (!found) {
			free(reply);
			fprintf(stderr, "umbra: the daemon does not know transfer %s\n", id);
			return 1;
		}
		uint64_t now = um_now_ns();
		unsigned long long done = strtoull(row.f[4], NULL, 10), size = strtoull(row.f[5], NULL, 10);
		const char *state = row.f[3];
		bool final = !strcmp(state, "done") || !strcmp(state, "refused") || !strcmp(state, "failed");
		/* The clock starts when the peer accepted (an offer may wait). */
		if (!strcmp(last_state, "offered") && strcmp(state, "offered")) {
			first_bytes = done;
			started = rate_at = now;
			rate_bytes = done;
		}
		/* Rate over the last second or more (a moving window). */
		if (now - rate_at >= UM_NSEC_PER_SEC) {
			rate =
			    (double)(done - (done >= rate_bytes ? rate_bytes : done)) * 1e9 / (double)(now - rate_at);
			rate_bytes = done;
			rate_at = now;
		}
		char d[24], s[24], r[24], eta[32] = "-";
		format_bytes(d, sizeof(d), (double)done);
		format_bytes(s, sizeof(s), (double)size);
		format_bytes(r, sizeof(r), rate);
		if (rate > 0 && size > done)
			snprintf(eta, sizeof(eta), "%.0fs", (double)(size - done) / rate);
		unsigned pct = size ? (unsigned)(done * 100 / size) : 100;
		bool changed = strcmp(state, last_state) != 0;
		if (tty) {
			char bar[31];
			unsigned fill = pct * 30 / 100;
			for (unsigned i = 0; i < 30; i++)
				bar[i] = i < fill ? '#' : ' ';
			bar[30] = '\0';
			printf("\r[%s] %3u%% %s / %s  %s/s  ETA %s  %-8s", bar, pct, d, s, r, eta, state);
			if (final)
				printf("\n");
			fflush(stdout);
		} else if (final || changed || now - last_print >= UM_NSEC_PER_SEC) {
			if (um_cli.json)
				printf("{\"id\":\"%s\",\"state\":\"%s\",\"bytes_done\":%llu,\"size\":%llu,\"rate\":%."
				       "0f}\n",
				       id, state, done, size, rate);
			else
				printf("%s %s %llu/%llu bytes %u%% %s/s ETA %s\n", id, state, done, size, pct, r, eta);
			fflush(stdout);
			last_print = now;
		}
		snprintf(last_state, sizeof(last_state), "%s", state);
		free(reply);
		if (final) {
			if (!um_cli.json && !strcmp(last_state, "done")) {
				double secs = (double)(now - started) / 1e9;
				format_bytes(r, sizeof(r), secs > 0 ? (double)(size - first_bytes) / secs : 0);
				printf("done in %.1f s (%s/s)\n", secs, r);
			}
			return strcmp(last_state, "done") ? 1 : 0;
		}
		sleep_ms(50); /* the end is seen within 50 ms (a 100 MB copy takes ~0.4 s); lines still once a second */
	}
}

static int send_file(const char *peer, const char *path)
{
	char full[PATH_MAX], *request = NULL, *reply = NULL, *cursor, *key, *value, id[40] = "";
	size_t used, cap;
	int r = 1;

	if (!realpath(path, full)) {
		fprintf(stderr, "umbra: %s: %s\n", path, strerror(errno));
		return 1;
	}
	if (strlen(peer) >= UM_CONTROL_LINE_MAX - 16)
		return usage();
	cap = 64 + strlen(peer);
	request = malloc(cap);
	if (!request)
		return 1;
	used = (size_t)snprintf(request, cap, "file-send=%s\n", peer);
	if (um_cli_build_pct(&request, &used, &cap, "path", full, strlen(full)))
		goto out;
	request[used++] = '\n';
	request[used] = '\0';
	if (um_cli_request(request, &reply))
		goto out;
	cursor = reply;
	while (um_control_next(&cursor, &key, &value))
		if (!strcmp(key, "id"))
			snprintf(id, sizeof(id), "%s", value);
	if (strlen(id) != 32) {
		fprintf(stderr, "umbra: the daemon sent no transfer ID\n");
		goto out;
	}
	if (!um_cli.json)
		printf("%s offered to %s\n", id, peer);
	fflush(stdout);
	r = follow(id);
out:
	free(request);
	free(reply);
	return r;
}

int file_main(int argc, char **argv)
{
	const char *args[4] = {NULL};
	int n = um_cli_positional(argc, argv, args, 4);

	if (n < 0)
		return usage();
	if (n == 0 || (n == 1 && !strcmp(args[0], "list")))
		return list();
	if (n == 3 && !strcmp(args[0], "send"))
		return send_file(args[1], args[2]);
	if (n == 2 && !strcmp(args[0], "accept"))
		return decide("accept", args[1], NULL);
	if ((n == 2 || n == 3) && !strcmp(args[0], "reject"))
		return decide("reject", args[1], n == 3 ? args[2] : NULL);
	return usage();
}
