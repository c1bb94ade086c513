/* SPDX-License-Identifier: MIT */
/* The CLI's side of the control socket: send one request, read the whole
 * reply, and walk its key=value lines. */
#ifndef UM_CTL_CLIENT_H
#define UM_CTL_CLIENT_H

#include <stddef.h>
#include <stdint.h>

/* Sends request (a complete request text, ending with an empty line) to the
 * daemon at socket_path and reads the reply up to its "errno=N" line.
 * On success *reply_out is a NUL-terminated buffer the caller frees, and
 * *status is N (0 = the daemon did it). Returns 0 or a negative error
 * (-ENOENT / -ECONNREFUSED when no daemon listens, -UM_EINVAL for a reply
 * without the errno line, -ETIMEDOUT after timeout_ms). */
int um_control_call(const char *socket_path, const char *request, int timeout_ms, char **reply_out, int *status);

/* Iterates over "key=value" lines of a reply in place (it writes NULs into
 * the buffer). Returns 1 with *key and *value set, 0 at the end. Lines
 * without '=' are skipped. */
int um_control_next(char **cursor, char **key, char **value);

/* The reply of "get=1" as a model for the CLI: a list of blocks, the
 * node's first, then one per peer (starting at its "peer=" line). Fields
 * point into the reply buffer, which must outlive the status. */
enum { UM_STATUS_FIELDS_MAX = 64 };

struct um_status_field {
	const char *key, *value;
};

struct um_status_block {
	struct um_status_field fields[UM_STATUS_FIELDS_MAX];
	size_t n_fields;
};

struct um_status {
	struct um_status_block node;
	struct um_status_block *peers; /* owned */
	size_t n_peers;
};

/* Parses reply (modified in place). Returns 0 or -ENOMEM. Extra fields
 * beyond UM_STATUS_FIELDS_MAX per block are dropped. */
int um_status_parse(struct um_status *status, char *reply);
void um_status_free(struct um_status *status);
/* Value of key in block (first occurrence), or NULL. */
const char *um_status_get(const struct um_status_block *block, const char *key);
/* Same, as an unsigned number; fallback if absent or not a number. */
unsigned long long um_status_u64(const struct um_status_block *block, const char *key, unsigned long long fallback);

#endif
