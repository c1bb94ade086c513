/* SPDX-License-Identifier: MIT */
/* The daemon's one HTTP listener (libmicrohttpd): routes a method and a path
 * (exact, or a prefix) to a handler, so the bootstrap API today and metrics
 * or a dashboard later share one port and one set of limits.
 *
 * It runs on its own thread (libmicrohttpd's internal epoll thread), not on
 * the daemon's event loop: a handler may spend a signature verification
 * (~0.3 ms) without delaying relayed packets. Every handler runs on that one
 * thread, so whatever a handler's ctx holds needs no lock as long as
 * nothing else touches it.
 *
 * Limits: request bodies above max_body are refused with 413 before they
 * are read (Content-Length) or while they arrive (chunked); connections
 * capped in total and per source address; idle connections time out.
 * Errors are JSON: {"error": "..."}. TLS (HTTPS) when a certificate and key
 * are given (PEM files, read at start; the key's copy is wiped). */
#ifndef UM_HTTP_SERVER_H
#define UM_HTTP_SERVER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "util/addr.h"

enum {
	UM_HTTP_BODY_MAX = 16384, /* default max_body */
};

struct um_http_request {
	const char *method; /* "GET", "POST", ... */
	const char *path;   /* without the query string */
	const uint8_t *body;
	size_t body_len;
	struct um_addr source; /* the TCP peer (port: its TCP port) */
};

/* What a handler fills: status and a body it allocated with malloc (the
 * server frees it); content_type NULL means application/json. */
struct um_http_response {
	unsigned status;
	char *body;
	size_t body_len;
	const char *content_type;            /* static string */
	struct um_http_deferred *deferrable; /* the server's: see um_http_response_defer */
};

/* A response that another thread gives later (the relay queue's group
 * commit: handlers hand their work to a committer thread and the HTTP
 * thread goes on serving others). A handler calls um_http_response_defer
 * and returns; the server suspends the connection (libmicrohttpd's
 * suspend/resume) until um_http_deferred_finish is called, exactly once,
 * from any thread. The token stays valid until that call; the server must
 * not be freed while a deferred response is outstanding (finish them all
 * first). */
struct um_http_deferred;
/* The token for response (NULL when the server cannot defer). */
struct um_http_deferred *um_http_response_defer(struct um_http_response *response);
/* Sends response (its body taken: the server frees it) on the deferred
 * connection and resumes it. d is invalid after the call. */
void um_http_deferred_finish(struct um_http_deferred *d, struct um_http_response *response);

typedef void (*um_http_handler_fn)(void *ctx, const struct um_http_request *request, struct um_http_response *response);

struct um_http_server_config {
	struct um_addr listen;       /* port 0: an ephemeral port (um_http_server_port) */
	const char *certificate;     /* PEM file; NULL: plain HTTP */
	const char *key;             /* PEM file; with certificate */
	size_t max_body;             /* 0: UM_HTTP_BODY_MAX */
	unsigned max_connections;    /* 0: 256 */
	unsigned per_ip_connections; /* 0: 16 */
	unsigned timeout_s;          /* idle connection timeout; 0: 10 */
};

struct um_http_server;

/* A server not yet listening; add routes, then um_http_server_start. *out
 * owned by the caller (um_http_server_free). 0 or -UM_ENOMEM. */
int um_http_server_create(struct um_http_server **out, const struct um_http_server_config *config);
/* Routes method (NULL: any) + path (exact, or every path starting with it
 * when prefix) to fn(ctx). First match wins; a path that matches no route
 * answers 404, a known path with another method 405. Strings borrowed
 * (literals); ctx borrowed until the server is freed. Before start only.
 * 0, -UM_ESTATE (started) or -UM_ENOMEM. */
int um_http_server_route(struct um_http_server *server, const char *method, const char *path, bool prefix,
			 um_http_handler_fn fn, void *ctx);
/* The same with a body limit of its own for this route (max_body bytes,
 * instead of the server's): the queue API takes batches of envelopes. */
int um_http_server_route_body(struct um_http_server *server, const char *method, const char *path, bool prefix,
			      size_t max_body, um_http_handler_fn fn, void *ctx);
/* Binds and starts the thread. 0, -UM_ECONFIG (TLS files unreadable or TLS
 * unsupported), or -errno / -UM_EINVAL when the listener cannot start. */
int um_http_server_start(struct um_http_server *server);
/* The bound port (after start). */
uint16_t um_http_server_port(const struct um_http_server *server);
/* Stops the thread (waits for a running handler) and frees everything.
 * NULL is fine. */
void um_http_server_free(struct um_http_server *server);

/* A JSON error response {"error": message} with status (for handlers). */
void um_http_response_error(struct um_http_response *response, unsigned status, const char *message);
/* Takes o (a reference, NULL allowed: out of memory) and makes it the
 * response body with status; 503 when it cannot be rendered. */
void um_http_response_json(struct um_http_response *response, unsigned status, json_t *o);
/* Exactly n bytes from v, a base64 (standard, padded) JSON string:
 * 0 or -UM_EINVAL (not a string, another length, bad characters). */
int um_http_json_base64_exact(const json_t *v, uint8_t *out, size_t n);

#endif
