/* SPDX-License-Identifier: MIT */
/* Subcommands of the umbra CLI: one file each under tools/cli/, each with
 * an entry point <name>_main(argc, argv) where argv[0] is the subcommand.
 * Global options already parsed by main() are in struct um_cli_globals. */
#ifndef UM_CLI_COMMANDS_H
#define UM_CLI_COMMANDS_H

#include <stdbool.h>

struct um_cli_globals {
	const char *socket_path; /* --socket, or the default control socket */
	bool json;               /* --json: machine-readable output */
};

extern struct um_cli_globals um_cli;

int selftest_main(int argc, char **argv);
int keygen_main(int argc, char **argv);
int pubkey_main(int argc, char **argv);

#endif
