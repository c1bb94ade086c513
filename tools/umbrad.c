/* SPDX-License-Identifier: MIT */
/* umbrad: the umbra node daemon. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "um_config.h"

static void usage(FILE *f)
{
	fprintf(f, "usage: umbrad [--config FILE] [--version] [--help]\n");
}

int main(int argc, char **argv)
{
	static const struct option options[] = {
		{"config", required_argument, NULL, 'c'},
		{"version", no_argument, NULL, 'V'},
		{"help", no_argument, NULL, 'h'},
		{NULL, 0, NULL, 0},
	};
	int opt;

	while ((opt = getopt_long(argc, argv, "c:Vh", options, NULL)) != -1) {
		switch (opt) {
		case 'V':
			printf("umbrad %s\n", UM_VERSION);
			return 0;
		case 'h':
			usage(stdout);
			return 0;
		case 'c':
			break;
		default:
			usage(stderr);
			return 2;
		}
	}
	usage(stderr);
	return 2;
}
