/* SPDX-License-Identifier: MIT */
/* libFuzzer target: the control request parser (every op, get=1 / get=json
 * / get=json-peers included), the CLI's reply parser (the CLI should not
 * trust a daemon blindly either), and um_control_reply_add_raw, which must
 * keep any value on one line. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "ctl/client.h"
#include "ctl/control.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct um_control_request req;
	struct um_status status;

	if (um_control_parse_request(&req, (const char *)data, size) == 0) {
		if (req.op == UM_CONTROL_REKEY || req.op == UM_CONTROL_PING)
			(void)strlen(req.peer);
		if (req.format != UM_CONTROL_FORMAT_TEXT && req.op != UM_CONTROL_GET)
			abort();
	}
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
