/* SPDX-License-Identifier: MIT */
/* What the HTTP clients of the relay APIs share (bootstrap_client.c,
 * queue_client.c): the base URL a config line gives, one reused libcurl
 * handle with its timeouts and TLS settings, a bounded answer buffer, the
 * meaning of a reply's status and the JSON object of an answer. */
#ifndef UM_HTTP_CLIENT_H
#define UM_HTTP_CLIENT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

enum {
	UM_HTTP_CLIENT_URL_MAX = 256,
};

struct um_http_client {
	char base[UM_HTTP_CLIENT_URL_MAX]; /* "http(s)://HOST:PORT", no trailing slash */
	long timeout_ms;                   /* per request, connecting included */
	size_t response_max;               /* a longer answer fails the request */
	const char *ca_file;               /* https: verify against this PEM bundle (borrowed) */
	bool insecure;                     /* https: skip certificate verification (tests) */
	void *curl;                        /* owned CURL handle, reused between calls */
	unsigned last_status;              /* HTTP status of the last call (0: none) */
	/* Optional: asked about once a second during a transfer; non-zero
	 * aborts it (-UM_EAGAIN). ctx borrowed. */
	int (*abort_check)(void *ctx);
	void *abort_ctx;
};

/* An answer's body, NUL-terminated when not empty (data NULL when empty);
 * data is malloc'ed and the caller's (free(data)). */
struct um_http_client_response {
	char *data;
	size_t len, cap;
	size_t max;    /* the client's response_max */
	bool overflow; /* longer than max, or out of memory: the request failed */
};

/* url as um_http_client_base takes it; timeout_ms and response_max as in
 * the struct. 0, -UM_EINVAL or -UM_ENOMEM. Release with
 * um_http_client_close (also after a failed init). */
int um_http_client_init(struct um_http_client *client, const char *url, long timeout_ms, size_t response_max);
void um_http_client_close(struct um_http_client *client);
/* method on base + path; body (len bytes, borrowed, may be NULL: none) sent
 * as application/json. The answer into *out (reset first; out->data the
 * caller's, kept for every status). 0 for 200, the status's code
 * (um_http_client_status), -UM_EAGAIN without an answer (refused, timeout,
 * TLS, too long, aborted), -UM_EINVAL (URL too long), -UM_ESTATE (not
 * initialised). */
int um_http_client_request(struct um_http_client *client, const char *method, const char *path, const char *body,
			   size_t len, struct um_http_client_response *out);

/* "HOST:PORT", "http://..." or "https://..." (trailing slashes dropped, at
 * most 200 bytes) into out as "http(s)://...": 0, or -UM_EINVAL (another
 * scheme, empty, too long). */
int um_http_client_base(char *out, size_t cap, const char *url);
/* An API reply's HTTP status as an error code: 0 for 200; 400 -UM_EINVAL,
 * 403 -UM_EBADMSG, 404 -UM_ENOTFOUND, 409/429 -UM_ELIMIT, 413 -UM_ERANGE,
 * 503 -UM_ENOMEM, 507 -ENOSPC; anything else -UM_EAGAIN (try later). */
int um_http_client_status(long status);
/* The JSON object in body (len bytes, borrowed, need not be NUL terminated,
 * may be NULL); duplicate keys refused. A new reference (json_decref), or
 * NULL (no JSON object). */
json_t *um_http_client_load_object(const char *body, size_t len);
/* v (borrowed, may be NULL) a base64 string (original alphabet) of exactly
 * len bytes, decoded into out: 0, or -UM_ETRUNC (out may be written). */
int um_http_client_json_bytes(const json_t *v, uint8_t *out, size_t len);

#endif
