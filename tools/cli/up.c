/* SPDX-License-Identifier: MIT */
/* umbra up: bring the device up and start handshakes with the peers. */
#include <stdio.h>
#include <stdlib.h>

#include "cli/commands.h"

int up_main(int argc, char **argv)
{
	char *reply;

	(void)argv;
	if (argc != 1) {
		fprintf(stderr, "usage: umbra [--socket PATH] up\n");
		return 2;
	}
	if (um_cli_request("up=1\n\n", &reply))
		return 1;
	free(reply);
	return 0;
}
