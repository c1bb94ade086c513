/* SPDX-License-Identifier: MIT */
/* umbra send PEER TEXT|- : queue a text message (node/messaging.h: stored
 * first, delivered when the peer is reachable); prints its ID.
 * umbra read ID: mark a received message read (the sender gets a read
 * receipt).
 * umbra inbox [--follow] [--json] [--peer PEER] [--after SEQ]: the message
 * history both ways in store order, then (--follow) every new message,
 * receipt, presence change and file event as it happens, until interrupted
 * (--follow --json: one JSON document per line, only new events and those
 * after --after SEQ when given).
 * The reply formats are in ctl/control.h and node/messaging.h. */
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "cli/commands.h"
#include "cli/message.h"
#include "ctl/client.h"
#include "ctl/control.h"
#include "util/error.h"

enum { INBOX_PAGE = 500 };

/* ---- shared with file.c and presence.c (cli/message.h) ---- */

int um_cli_build_pct(char **request, size_t *used, size_t *cap, const char *key, const void *data, size_t len)
{
	const uint8_t *in = data;
	size_t i = 0;

	do {
		/* Pieces of at most 80 input bytes: <= 240 encoded, within a line. */
		size_t piece = len - i < 80 ? len - i : 80;
		size_t need = strlen(key) + 2 + piece * 3 + 1;
		if (*cap - *used < need + 2) {
			size_t grown_cap = (*cap + need) * 2;
			char *grown = realloc(*request, grown_cap);
			if (!grown)
				return -ENOMEM;
			*request = grown;
			*cap = grown_cap;
		}
		*used += (size_t)snprintf(*request + *used, *cap - *used, "%s=", key);
		*used += um_control_percent_encode(in + i, piece, *request + *used, *cap - *used);
		(*request)[(*used)++] = '\n';
		(*request)[*used] = '\0';
		i += piece;
	} while (i < len);
	return 0;
}

void um_cli_print_pct(FILE *f, const char *pct)
{
	size_t len = strlen(pct), n = 0;
	uint8_t *buf = malloc(len + 1);

	if (!buf)
		return;
	if (um_control_percent_decode(pct, len, buf, len, &n) == 0) {
		/* Terminal safety: control characters other than newline and
		 * tab are shown as '?'. */
		for (size_t i = 0; i < n; i++)
			if ((buf[i] < 0x20 && buf[i] != '\n' && buf[i] != '\t') || buf[i] == 0x7f)
				buf[i] = '?';
		fwrite(buf, 1, n, f);
	}
	free(buf);
}

void um_cli_format_time_ms(char *out, size_t size, unsigned long long ms)
{
	time_t t = (time_t)(ms / 1000);
	struct tm tm;

	if (!ms || !localtime_r(&t, &tm) || !strftime(out, size, "%Y-%m-%d %H:%M:%S", &tm))
		snprintf(out, size, "-");
}

/* Splits value at spaces into at most n fields (the last takes the rest).
 * Returns how many were found. */
size_t um_cli_fields(char *value, char **fields, size_t n)
{
	size_t k = 0;

	while (k < n && value && *value) {
		fields[k++] = value;
		if (k == n)
			break;
		value = strchr(value, ' ');
		if (value)
			*value++ = '\0';
	}
	return k;
}

/* ---- send ---- */

static int send_usage(void)
{
	fprintf(stderr, "usage: umbra [--json] send PEER TEXT|-     (- reads the text from stdin, up to 64 KiB)\n");
	return 2;
}

static int read_stdin(char **out, size_t *len)
{
	size_t cap = UM_CONTROL_MESSAGE_MAX + 1;
	char *buf = malloc(cap);

	*len = 0;
	if (!buf)
		return -ENOMEM;
	for (;;) {
		size_t n = fread(buf + *len, 1, cap - *len, stdin);
		*len += n;
		if (n == 0 || *len == cap)
			break;
	}
	*out = buf;
	return *len > UM_CONTROL_MESSAGE_MAX ? -EMSGSIZE : 0;
}

int send_main(int argc, char **argv)
{
	const char *peer = NULL, *text = NULL;
	char *request = NULL, *reply = NULL, *input = NULL, *cursor, *key, *value;
	size_t used = 0, cap = 0, len;
	int r = 1;

	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--json"))
			um_cli.json = true;
		else if (!peer)
			peer = argv[i];
		else if (!text)
			text = argv[i];
		else
			return send_usage();
	}
	if (!peer || !text || strlen(peer) >= UM_CONTROL_LINE_MAX - 8 || strchr(peer, '\n'))
		return send_usage();
	if (!strcmp(text, "-")) {
		if (read_stdin(&input, &len)) {
			fprintf(stderr, "umbra: a message holds at most %d bytes (send a file instead)\n",
				UM_CONTROL_MESSAGE_MAX);
			goto out;
		}
		text = input;
	} else {
		len = strlen(text);
	}
	if (len == 0 || len > UM_CONTROL_MESSAGE_MAX) {
		fprintf(stderr, "umbra: a message holds 1 to %d bytes (send a file instead)\n", UM_CONTROL_MESSAGE_MAX);
		goto out;
	}
	cap = 64 + strlen(peer);
	request = malloc(cap);
	if (!request)
		goto out;
	used = (size_t)snprintf(request, cap, "send=%s\n", peer);
	if (um_cli_build_pct(&request, &used, &cap, "text", text, len))
		goto out;
	request[used++] = '\n';
	request[used] = '\0';
	if (um_cli_request(request, &reply))
		goto out;
	const char *id = NULL, *seq = NULL, *state = NULL;
	cursor = reply;
	while (um_control_next(&cursor, &key, &value)) {
		if (!strcmp(key, "id"))
			id = value;
		else if (!strcmp(key, "seq"))
			seq = value;
		else if (!strcmp(key, "state"))
			state = value;
	}
	if (um_cli.json)
		printf("{\"id\":\"%s\",\"seq\":%s,\"state\":\"%s\"}\n", um_cli_or_dash(id), seq ? seq : "0",
		       um_cli_or_dash(state));
	else
		printf("%s %s\n", um_cli_or_dash(id), um_cli_or_dash(state));
	r = 0;
out:
	free(input);
	free(request);
	free(reply);
	return r;
}

/* ---- inbox ---- */

static int inbox_usage(void)
{
	fprintf(stderr, "usage: umbra [--json] inbox [--follow] [--peer PEER] [--after SEQ]\n");
	return 2;
}

/* One message= value (node/messaging.h): seq dir peer state sent_ms
 * received_ms id kind body. */
static void print_message(char *value)
{
	char *f[9], when[32];

	if (um_cli_fields(value, f, 9) != 9)
		return;
	um_cli_format_time_ms(when, sizeof(when), strtoull(f[4], NULL, 10));
	bool in = !strcmp(f[1], "in");
	printf("%s  %s %s: ", when, in ? "from" : "to", f[2]);
	if (!strcmp(f[7], "text"))
		um_cli_print_pct(stdout, f[8]);
	else
		printf("[%zu bytes binary]", strlen(f[8]) / 2);
	printf("  (%s)\n", f[3]);
}

/* One event= value of inbox-follow (node/messaging.h). */
static void print_event(char *value)
{
	char *f[8];

	if (!strncmp(value, "message ", 8)) {
		print_message(value + 8);
	} else if (!strncmp(value, "receipt ", 8) && um_cli_fields(value + 8, f, 3) == 3) {
		printf("receipt: message %s to %s is %s\n", f[0], f[1], f[2]);
	} else if (!strncmp(value, "presence ", 9)) {
		size_t k = um_cli_fields(value + 9, f, 4);
		if (k >= 2) {
			printf("presence: %s is %s", f[0], f[1]);
			if (k == 4 && f[3][0]) {
				printf(": ");
				um_cli_print_pct(stdout, f[3]);
			}
			printf("\n");
		}
	} else if (!strncmp(value, "file ", 5) && um_cli_fields(value + 5, f, 7) == 7) {
		printf("file %s %s %s: ", f[0], !strcmp(f[1], "in") ? "from" : "to", f[2]);
		um_cli_print_pct(stdout, f[6]);
		printf(" %s (%s of %s bytes)\n", f[3], f[4], f[5]);
	} else {
		printf("%s\n", value);
	}
	fflush(stdout);
}

/* The history in pages; JSON pages are merged into one array. *last is the
 * last seq seen. */
static int inbox_list(const char *peer, unsigned long long after, unsigned long long *last)
{
	bool first_element = true;

	if (um_cli.json)
		printf("[");
	for (;;) {
		char request[UM_CONTROL_LINE_MAX * 2], *reply, *cursor, *key, *value;
		bool more = false;
		int n = snprintf(request, sizeof(request), "inbox=%s\nafter=%llu\nlimit=%d\n",
				 um_cli.json ? "json" : "text", after, INBOX_PAGE);
		if (peer)
			n += snprintf(request + n, sizeof(request) - (size_t)n, "peer=%s\n", peer);
		snprintf(request + n, sizeof(request) - (size_t)n, "\n");
		if (um_cli_request(request, &reply))
			return 1;
		cursor = reply;
		while (um_control_next(&cursor, &key, &value)) {
			if (!strcmp(key, "json")) {
				/* An array: its elements without the brackets. */
				size_t len = strlen(value);
				if (len >= 2 && value[0] == '[' && value[len - 1] == ']' && len > 2) {
					printf("%s%.*s", first_element ? "" : ",", (int)(len - 2), value + 1);
					first_element = false;
				}
			} else if (!strcmp(key, "message")) {
				print_message(value);
			} else if (!strcmp(key, "last")) {
				after = strtoull(value, NULL, 10);
			} else if (!strcmp(key, "more")) {
				more = !strcmp(value, "1");
			}
		}
		free(reply);
		if (!more)
			break;
	}
	if (um_cli.json)
		printf("]\n");
	fflush(stdout);
	*last = after;
	return 0;
}

/* inbox-follow: one connection kept open; lines until the daemon goes. */
static int inbox_follow(unsigned long long after, bool backlog)
{
	struct sockaddr_un addr = {.sun_family = AF_UNIX};
	char request[128], buf[1 << 16];
	char *line = NULL;
	size_t line_len = 0, line_cap = 0;
	bool header = true;
	int fd, r = 1;

	if (strlen(um_cli.socket_path) >= sizeof(addr.sun_path))
		return 1;
	memcpy(addr.sun_path, um_cli.socket_path, strlen(um_cli.socket_path) + 1);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0 || connect(fd, (struct sockaddr *)&addr, sizeof(addr))) {
		fprintf(stderr, "umbra: %s: %s (is umbrad running?)\n", um_cli.socket_path, strerror(errno));
		goto out;
	}
	const char *format = um_cli.json ? "json" : "text";
	int n = backlog ? snprintf(request, sizeof(request), "inbox-follow=%s\nafter=%llu\n\n", format, after)
			: snprintf(request, sizeof(request), "inbox-follow=%s\n\n", format);
	if (send(fd, request, (size_t)n, MSG_NOSIGNAL) != n)
		goto out;
	for (;;) {
		ssize_t got = recv(fd, buf, sizeof(buf), 0);
		if (got < 0 && errno == EINTR)
			continue;
		if (got <= 0) {
			fprintf(stderr, "umbra: the daemon closed the connection\n");
			goto out;
		}
		for (ssize_t i = 0; i < got; i++) {
			if (buf[i] != '\n') {
				if (line_len + 1 >= line_cap) {
					size_t grown_cap = line_cap ? line_cap * 2 : 4096;
					char *grown =
					    grown_cap > UM_CONTROL_REPLY_MAX ? NULL : realloc(line, grown_cap);
					if (!grown)
						goto out;
					line = grown;
					line_cap = grown_cap;
				}
				line[line_len++] = buf[i];
				continue;
			}
			if (!line)
				continue;
			line[line_len] = '\0';
			line_len = 0;
			if (!strncmp(line, "errno=", 6) && header) {
				int status = atoi(line + 6);
				if (status) {
					fprintf(stderr, "umbra: the daemon refused: %s\n", um_strerror(-status));
					goto out;
				}
				header = false;
			} else if (!strncmp(line, "json=", 5)) {
				printf("%s\n", line + 5);
				fflush(stdout);
			} else if (!strncmp(line, "event=", 6)) {
				print_event(line + 6);
			}
		}
	}
out:
	free(line);
	if (fd >= 0)
		close(fd);
	return r;
}

int inbox_main(int argc, char **argv)
{
	const char *peer = NULL;
	unsigned long long after = 0, last = 0;
	bool follow = false, after_given = false;

	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--json"))
			um_cli.json = true;
		else if (!strcmp(argv[i], "--follow") || !strcmp(argv[i], "-f"))
			follow = true;
		else if (!strcmp(argv[i], "--peer") && i + 1 < argc && strlen(argv[i + 1]) < 100)
			peer = argv[++i];
		else if (!strcmp(argv[i], "--after") && i + 1 < argc)
			after = strtoull(argv[++i], NULL, 10), after_given = true;
		else
			return inbox_usage();
	}
	if (!follow)
		return inbox_list(peer, after, &last);
	/* --follow --json prints one document per line: no array first, only
	 * what happens from now on (and what came after --after SEQ). */
	if (um_cli.json)
		return inbox_follow(after, after_given);
	if (inbox_list(peer, after, &last))
		return 1;
	return inbox_follow(last, true);
}

/* ---- read ---- */

int read_main(int argc, char **argv)
{
	char request[128], *reply;

	if (argc != 2 || strlen(argv[1]) != 32) {
		fprintf(stderr, "usage: umbra read ID     (a received message's ID, 32 hex digits)\n");
		return 2;
	}
	snprintf(request, sizeof(request), "read=%s\n\n", argv[1]);
	if (um_cli_request(request, &reply))
		return 1;
	free(reply);
	return 0;
}
