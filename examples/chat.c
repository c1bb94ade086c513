/* SPDX-License-Identifier: MIT */
/* A terminal chat between two peers over libumbra, in the application's own
 * event loop: poll(2) on standard input and the node's descriptor.
 *
 *   umbra-chat CONFIG PEER
 *
 * Each line typed is a message to PEER; "/away TEXT", "/busy TEXT",
 * "/online" set our presence, "/file PATH" offers a file, "/quit" leaves.
 * Incoming messages print as "<peer> text" and are marked read; receipts
 * print as "* delivered" / "* read". At the end of input the program waits
 * (at most 30 s) until every message it sent is delivered, then exits:
 * status 0 when all were, 1 otherwise. The config may say `device = none`:
 * then no privileges are needed. */
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "umbra.h"

struct chat {
	struct umbra_node *node;
	const char *peer;
	unsigned sent, delivered;
	int input_open;
};

static void print_id(const uint8_t *id)
{
	for (int i = 0; i < 4; i++)
		printf("%02x", id[i]);
}

static void on_message(void *ctx, const struct umbra_message *m)
{
	struct chat *chat = ctx;

	if (m->binary)
		printf("<%s> (%zu bytes of binary)\n", m->peer, m->len);
	else
		printf("<%s> %.*s\n", m->peer, (int)m->len, (const char *)m->body);
	fflush(stdout);
	umbra_message_read(chat->node, m->peer, m->id);
}

static void on_receipt(void *ctx, const char *peer, const uint8_t *id, enum umbra_receipt what)
{
	struct chat *chat = ctx;
	static const char *const names[] = {"?", "delivered", "read", "refused"};

	if (what == UMBRA_RECEIPT_DELIVERED)
		chat->delivered++;
	printf("* %s ", what <= UMBRA_RECEIPT_REFUSED ? names[what] : "?");
	print_id(id);
	printf(" (%s)\n", peer);
	fflush(stdout);
}

static void on_presence(void *ctx, const char *peer, enum umbra_presence state, const char *text, uint64_t last_seen_ms)
{
	static const char *const names[] = {"offline", "online", "away", "busy"};

	(void)ctx;
	(void)last_seen_ms;
	printf("* %s is %s%s%s\n", peer, state <= UMBRA_PRESENCE_BUSY ? names[state] : "?", text && *text ? ": " : "",
	       text ? text : "");
	fflush(stdout);
}

static void on_file(void *ctx, const struct umbra_file_progress *p)
{
	(void)ctx;
	if (p->state == UMBRA_FILE_DONE)
		printf("* file %s %s (%llu bytes)%s%s\n", p->name, p->outgoing ? "sent" : "received",
		       (unsigned long long)p->size, p->path ? " -> " : "", p->path ? p->path : "");
	else if (p->state == UMBRA_FILE_REFUSED || p->state == UMBRA_FILE_FAILED)
		printf("* file %s %s\n", p->name, p->state == UMBRA_FILE_REFUSED ? "refused" : "failed");
	fflush(stdout);
}

/* One line of input: a command or a message. */
static void handle_line(struct chat *chat, char *line)
{
	size_t len = strlen(line);
	int rc = 0;

	if (len == 0)
		return;
	if (strcmp(line, "/quit") == 0) {
		chat->input_open = 0;
		return;
	}
	if (strncmp(line, "/away", 5) == 0 || strncmp(line, "/busy", 5) == 0 || strcmp(line, "/online") == 0) {
		enum umbra_presence state = line[1] == 'a'   ? UMBRA_PRESENCE_AWAY
					    : line[1] == 'b' ? UMBRA_PRESENCE_BUSY
							     : UMBRA_PRESENCE_ONLINE;
		rc = umbra_presence_set(chat->node, state, line[5] == ' ' ? line + 6 : NULL);
	} else if (strncmp(line, "/file ", 6) == 0) {
		rc = umbra_file_send(chat->node, chat->peer, line + 6, NULL);
	} else {
		rc = umbra_message_send(chat->node, chat->peer, line, len, 0, NULL);
		if (rc == 0)
			chat->sent++;
	}
	if (rc < 0)
		fprintf(stderr, "chat: %s\n", umbra_strerror(rc));
}

static uint64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

int main(int argc, char **argv)
{
	struct chat chat = {.input_open = 1};
	char error[512] = "", input[4096];
	size_t have = 0;
	uint64_t input_closed_ms = 0;
	int rc;

	if (argc != 3) {
		fprintf(stderr, "usage: %s CONFIG PEER\n", argv[0]);
		return 2;
	}
	chat.peer = argv[2];
	rc = umbra_init();
	if (rc == 0)
		rc = umbra_node_open(&chat.node, argv[1], error, sizeof(error));
	if (rc < 0) {
		fprintf(stderr, "chat: %s\n", *error ? error : umbra_strerror(rc));
		return 2;
	}
	umbra_node_set_callbacks(
	    chat.node,
	    &(struct umbra_callbacks){
		.ctx = &chat, .message = on_message, .receipt = on_receipt, .presence = on_presence, .file = on_file});
	for (;;) {
		struct pollfd fds[2] = {{.fd = umbra_node_fd(chat.node), .events = POLLIN},
					{.fd = STDIN_FILENO, .events = POLLIN}};

		if (!chat.input_open) {
			if (!input_closed_ms)
				input_closed_ms = now_ms();
			if (chat.delivered >= chat.sent || now_ms() - input_closed_ms > 30000)
				break;
		}
		if (poll(fds, chat.input_open ? 2 : 1, 200) < 0 && errno != EINTR)
			break;
		if (fds[0].revents)
			umbra_node_dispatch(chat.node, 0);
		if (chat.input_open && (fds[1].revents & (POLLIN | POLLHUP))) {
			/* read(2), not stdio: poll must see every byte not yet taken. */
			ssize_t got = read(STDIN_FILENO, input + have, sizeof(input) - 1 - have);
			char *end;

			if (got <= 0 || (have += (size_t)got) == sizeof(input) - 1)
				chat.input_open = 0;
			input[have] = '\0';
			while (chat.input_open && (end = strchr(input, '\n'))) {
				*end = '\0';
				handle_line(&chat, input);
				have -= (size_t)(end + 1 - input);
				memmove(input, end + 1, have + 1);
			}
		}
	}
	printf("* sent %u, delivered %u\n", chat.sent, chat.delivered);
	umbra_node_close(chat.node);
	return chat.delivered >= chat.sent ? 0 : 1;
}
