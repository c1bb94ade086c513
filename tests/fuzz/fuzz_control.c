/* SPDX-License-Identifier: MIT */
/* libFuzzer target: the control request parser (every op, get=1 / get=json
 * / get=json-peers and the messaging ops included), the percent codec of
 * the messaging texts, the CLI's reply parser (the CLI should not
 * trust a daemon blindly either), and um_control_reply_add_raw, which must
 * keep any value on one line. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "ctl/client.h"
#include "ctl/control.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct um_control_request req; /* large (a send= body): not on the stack */

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct um_status status;

	if (um_control_parse_request(&req, (const char *)data, size) == 0) {
		if (req.op == UM_CONTROL_REKEY || req.op == UM_CONTROL_PING)
			(void)strlen(req.peer);
		/* The messaging ops (send, inbox, file-*, presence, read): their
		 * fields within bounds, texts terminated, a send never empty. */
		if (req.format != UM_CONTROL_FORMAT_TEXT && req.op != UM_CONTROL_GET && req.op < UM_CONTROL_SEND)
			abort();
		if (req.op == UM_CONTROL_SEND && (req.body_len == 0 || req.body_len > UM_CONTROL_MESSAGE_MAX))
			abort();
		if (strlen(req.text) > 256 || strlen(req.target) >= sizeof(req.target) ||
		    req.path[sizeof(req.path) - 1])
			abort();
		if (req.op == UM_CONTROL_FILE_SEND && req.path[0] != '/')
			abort();
	}
	/* The percent codec: what decodes encodes back to the same bytes. */
	uint8_t *decoded = malloc(size + 1);
	size_t n;
	if (decoded && um_control_percent_decode((const char *)data, size, decoded, size, &n) == 0) {
		size_t need = um_control_percent_encode(decoded, n, NULL, 0);
		char *again = malloc(need + 1);
		uint8_t *twice = malloc(n + 1);
		size_t m;
		if (again && twice) {
			um_control_percent_encode(decoded, n, again, need + 1);
			if (um_control_percent_decode(again, need, twice, n, &m) || m != n || memcmp(twice, decoded, n))
				abort();
		}
		free(again);
		free(twice);
	}
	free(decoded);
	struct um_control_reply reply = {0};
	um_control_reply_add_raw(&reply, "json", (const char *)data, size);
	if (!reply.overflow && (reply.len != size + 6 || memchr(reply.data, '\n', reply.len - 1)))
		abort(); /* the value must stay one line */
	free(reply.data);
	char *copy = malloc(size + 1);
	if (!copy)
		return 0;
	memcpy(copy, data, size);
	copy[size] = '\0';
	if (um_status_parse(&status, copy) == 0) {
		for (size_t i = 0; i < status.n_peers; i++)
			(void)um_status_u64(&status.peers[i], "rx_bytes", 0);
		um_status_free(&status);
	}
	free(copy);
	return 0;
}
