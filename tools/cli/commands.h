/* SPDX-License-Identifier: MIT */
/* Subcommands of the umbra CLI: one file each under tools/cli/, each with
 * an entry point <name>_main(argc, argv) where argv[0] is the subcommand.
 * Global options already parsed by main() are in struct um_cli_globals. */
#ifndef UM_CLI_COMMANDS_H
#define UM_CLI_COMMANDS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

struct um_cli_globals {
	const char *socket_path; /* --socket, or the default control socket */
	bool json;               /* --json: machine-readable output */
};

extern struct um_cli_globals um_cli;

int selftest_main(int argc, char **argv);
int keygen_main(int argc, char **argv);
int pubkey_main(int argc, char **argv);
int network_key_main(int argc, char **argv);
/* Control-plane commands; common.c holds what they share. */
int status_main(int argc, char **argv);
int peers_main(int argc, char **argv);
int up_main(int argc, char **argv);
int down_main(int argc, char **argv);
int ping_main(int argc, char **argv);
int dht_main(int argc, char **argv);
/* Messaging (issue 16): message.c, file.c, presence.c (cli/message.h). */
int send_main(int argc, char **argv);
int inbox_main(int argc, char **argv);
int read_main(int argc, char **argv);
int file_main(int argc, char **argv);
int presence_main(int argc, char **argv);
struct um_status;
struct um_status_block;
/* Sends a request to the daemon; prints the error and returns it on failure.
 * On success *reply is the daemon's reply (the caller frees it). */
int um_cli_request(const char *request, char **reply);
/* get=1 parsed into status; the caller frees reply and status. */
int um_cli_fetch(struct um_status *status, char **reply);
/* Sends request (get=json or get=json-peers) and prints the JSON document
 * the daemon rendered (ctl/status.h), one line. 0 or a negative error
 * (printed). */
int um_cli_print_json(const char *request);
/* s, or "-" for NULL. */
const char *um_cli_or_dash(const char *s);
/* Sets um_cli.json for each "--json" and collects the other arguments after
 * argv[0] into args[max]: their number, or -1 when there are more. */
int um_cli_positional(int argc, char **argv, const char **args, int max);
void um_cli_format_age(char *out, size_t size, const struct um_status_block *block, const char *key);
void um_cli_format_rtt(char *out, size_t size, const struct um_status_block *block);

#endif
