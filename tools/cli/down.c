/* SPDX-License-Identifier: MIT */
/* umbra down: close every session and take the device down (the daemon keeps running). */
#include <stdio.h>
#include <stdlib.h>

#include "cli/commands.h"

int down_main(int argc, char **argv)
{
	char *reply;

	(void)argv;
	if (argc != 1) {
		fprintf(stderr, "usage: umbra [--socket PATH] down\n");
		return 2;
	}
	if (um_cli_request("down=1\n\n", &reply))
		return 1;
	free(reply);
	return 0;
}
