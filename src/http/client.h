/* SPDX-License-Identifier: MIT */
/* What the HTTP clients of the relay APIs share (bootstrap_client.c,
 * queue_client.c): the base URL a config line gives and the meaning of a
 * reply's status. */
#ifndef UM_HTTP_CLIENT_H
#define UM_HTTP_CLIENT_H

#include <stddef.h>

/* "HOST:PORT", "http://..." or "https://..." (trailing slashes dropped, at
 * most 200 bytes) into out as "http(s)://...": 0, or -UM_EINVAL (another
 * scheme, empty, too long). */
int um_http_client_base(char *out, size_t cap, const char *url);
/* An API reply's HTTP status as an error code: 0 for 200; 400 -UM_EINVAL,
 * 403 -UM_EBADMSG, 404 -UM_ENOTFOUND, 409/429 -UM_ELIMIT, 413 -UM_ERANGE,
 * 503 -UM_ENOMEM, 507 -ENOSPC; anything else -UM_EAGAIN (try later). */
int um_http_client_status(long status);

#endif
