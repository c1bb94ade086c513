/* SPDX-License-Identifier: MIT */
/* libFuzzer target: the control request parser, and the CLI's reply parser
 * (the CLI should not trust a daemon blindly either). */
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

	if (um_control_parse_request(&req, (const char *)data, size) == 0 && req.op == UM_CONTROL_REKEY)
		(void)strlen(req.peer);
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
