/* SPDX-License-Identifier: MIT */
/* What the messaging commands of the CLI (message.c, file.c, presence.c)
 * share: percent-encoded request lines (ctl/control.h) and the fields of
 * the daemon's text replies (node/messaging.h). */
#ifndef UM_CLI_MESSAGE_H
#define UM_CLI_MESSAGE_H

#include <stddef.h>
#include <stdio.h>

/* Appends "key=" PCT lines carrying data[0..len) (at least one line, in
 * pieces that fit the control socket's line limit) to *request, which
 * holds *used bytes of *cap (grown with realloc; the caller frees). */
int um_cli_build_pct(char **request, size_t *used, size_t *cap, const char *key, const void *data, size_t len);
/* Prints a PCT value decoded, control characters but \n and \t as '?'. */
void um_cli_print_pct(FILE *f, const char *pct);
/* Local time of ms since the epoch, "-" for 0. */
void um_cli_format_time_ms(char *out, size_t size, unsigned long long ms);
/* Splits value in place at spaces into at most n fields (the last one
 * takes the rest of the line); returns the number found. */
size_t um_cli_fields(char *value, char **fields, size_t n);

#endif
