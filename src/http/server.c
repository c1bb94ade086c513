/* SPDX-License-Identifier: MIT */
/* The HTTP listener (server.h) on libmicrohttpd's internal epoll thread. A
 * request's body is gathered into a per-connection buffer of at most
 * max_body bytes, then the route's handler runs once with the whole body. */
#include "http/server.h"

#include <errno.h>
#include <fcntl.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <jansson.h>
#include <sodium.h>

#include "util/error.h"
#include "util/log.h"

enum {
	ROUTES_MAX = 32,
	PEM_MAX = 65536, /* a certificate chain or key file */
};

struct route {
	const char *method, *path;
	size_t path_len;
	bool prefix;
	size_t max_body; /* 0: the server's */
	um_http_handler_fn fn;
	void *ctx;
};

struct um_http_server {
	struct um_http_server_config config;
	struct route routes[ROUTES_MAX];
	size_t n_routes;
	struct MHD_Daemon *daemon;
	char *certificate_pem, *key_pem; /* owned; key wiped on free */
	size_t key_len;
	uint16_t port;
	/* Guards every request's deferred state: one lock for the server, so
	 * a finishing thread never holds a lock inside a freed request. */
	pthread_mutex_t defer_lock;
};

struct um_http_deferred {
	struct um_http_server *server;
	struct MHD_Connection *connection;
	bool requested, suspended, finished;
	struct um_http_response response; /* when finished */
};

/* Per request (MHD's con_cls): the body as it arrives. */
struct request_state {
	uint8_t *body;
	size_t len, cap, max_body;
	bool too_large, dispatched;
	struct um_http_deferred deferred;
};

void um_http_response_error(struct um_http_response *response, unsigned status, const char *message)
{
	json_t *o = json_pack("{s:s}", "error", message);
	char *text = o ? json_dumps(o, JSON_COMPACT) : NULL;

	json_decref(o);
	free(response->body);
	response->status = status;
	response->body = text;
	response->body_len = text ? strlen(text) : 0;
	response->content_type = NULL;
}

void um_http_response_json(struct um_http_response *response, unsigned status, json_t *o)
{
	char *text = o ? json_dumps(o, JSON_COMPACT) : NULL;

	json_decref(o);
	if (!text) {
		um_http_response_error(response, 503, "out of memory");
		return;
	}
	free(response->body);
	response->status = status;
	response->body = text;
	response->body_len = strlen(text);
}

int um_http_json_base64_exact(const json_t *v, uint8_t *out, size_t n)
{
	const char *end = NULL;
	size_t len, bin_len = 0;

	if (!json_is_string(v))
		return -UM_EINVAL;
	len = json_string_length(v);
	if (len != sodium_base64_encoded_len(n, sodium_base64_VARIANT_ORIGINAL) - 1)
		return -UM_EINVAL;
	if (sodium_base642bin(out, n, json_string_value(v), len, NULL, &bin_len, &end,
			      sodium_base64_VARIANT_ORIGINAL) ||
	    bin_len != n || end != json_string_value(v) + len)
		return -UM_EINVAL;
	return 0;
}

struct um_http_deferred *um_http_response_defer(struct um_http_response *response)
{
	struct um_http_deferred *d = response->deferrable;

	if (d)
		d->requested = true;
	return d;
}

void um_http_deferred_finish(struct um_http_deferred *d, struct um_http_response *response)
{
	struct um_http_server *s = d->server;

	pthread_mutex_lock(&s->defer_lock);
	d->response = *response;
	response->body = NULL;
	d->finished = true;
	/* Not yet suspended: the HTTP thread sends it when the handler returns. */
	if (d->suspended)
		MHD_resume_connection(d->connection);
	pthread_mutex_unlock(&s->defer_lock);
}

int um_http_server_create(struct um_http_server **out, const struct um_http_server_config *config)
{
	struct um_http_server *s = calloc(1, sizeof(*s));

	*out = NULL;
	if (!s)
		return -UM_ENOMEM;
	if (pthread_mutex_init(&s->defer_lock, NULL)) {
		free(s);
		return -UM_ENOMEM;
	}
	s->config = *config;
	if (!s->config.max_body)
		s->config.max_body = UM_HTTP_BODY_MAX;
	if (!s->config.max_connections)
		s->config.max_connections = 256;
	if (!s->config.per_ip_connections)
		s->config.per_ip_connections = 16;
	if (!s->config.timeout_s)
		s->config.timeout_s = 10;
	*out = s;
	return 0;
}

int um_http_server_route_body(struct um_http_server *s, const char *method, const char *path, bool prefix,
			      size_t max_body, um_http_handler_fn fn, void *ctx)
{
	if (s->daemon)
		return -UM_ESTATE;
	if (s->n_routes >= ROUTES_MAX)
		return -UM_ENOMEM;
	s->routes[s->n_routes++] = (struct route){.method = method,
						  .path = path,
						  .path_len = strlen(path),
						  .prefix = prefix,
						  .max_body = max_body,
						  .fn = fn,
						  .ctx = ctx};
	return 0;
}

int um_http_server_route(struct um_http_server *s, const char *method, const char *path, bool prefix,
			 um_http_handler_fn fn, void *ctx)
{
	return um_http_server_route_body(s, method, path, prefix, 0, fn, ctx);
}

/* The route for method + url, or NULL (*path_known: some method has it). */
static const struct route *route_find(const struct um_http_server *s, const char *url, const char *method,
				      bool *path_known)
{
	*path_known = false;
	for (size_t i = 0; i < s->n_routes; i++) {
		const struct route *rt = &s->routes[i];
		if (rt->prefix ? strncmp(url, rt->path, rt->path_len) != 0 : strcmp(url, rt->path) != 0)
			continue;
		*path_known = true;
		if (rt->method && strcmp(rt->method, method) != 0)
			continue;
		return rt;
	}
	return NULL;
}

/* Queues response (taking its body) on connection. */
static enum MHD_Result send_response(struct MHD_Connection *connection, struct um_http_response *r)
{
	struct MHD_Response *response;
	enum MHD_Result ret;

	if (!r->body) {
		um_http_response_error(r, r->status ? r->status : 500, "internal error");
		if (!r->body)
			return MHD_NO;
	}
	response = MHD_create_response_from_buffer(r->body_len, r->body, MHD_RESPMEM_MUST_FREE);
	if (!response) {
		free(r->body);
		return MHD_NO;
	}
	r->body = NULL;
	MHD_add_response_header(response, MHD_HTTP_HEADER_CONTENT_TYPE,
				r->content_type ? r->content_type : "application/json");
	MHD_add_response_header(response, MHD_HTTP_HEADER_CACHE_CONTROL, "no-store");
	ret = MHD_queue_response(connection, r->status, response);
	MHD_destroy_response(response);
	return ret;
}

static enum MHD_Result send_error(struct MHD_Connection *connection, unsigned status, const char *message)
{
	struct um_http_response r = {0};

	um_http_response_error(&r, status, message);
	return send_response(connection, &r);
}

static void source_of(struct MHD_Connection *connection, struct um_addr *out)
{
	const union MHD_ConnectionInfo *info = MHD_get_connection_info(connection, MHD_CONNECTION_INFO_CLIENT_ADDRESS);

	memset(out, 0, sizeof(*out));
	if (!info || !info->client_addr)
		return;
	const struct sockaddr *sa = info->client_addr;
	socklen_t len = sa->sa_family == AF_INET6 ? sizeof(struct sockaddr_in6) : sizeof(struct sockaddr_in);
	um_addr_from_sockaddr(out, sa, len);
}

static enum MHD_Result dispatch(struct um_http_server *s, struct MHD_Connection *connection, const char *url,
				const char *method, struct request_state *st)
{
	bool path_known;
	const struct route *rt = route_find(s, url, method, &path_known);

	if (!rt)
		return path_known ? send_error(connection, 405, "method not allowed")
				  : send_error(connection, 404, "not found");
	struct um_http_request req = {.method = method, .path = url, .body = st->body, .body_len = st->len};
	struct um_http_response resp = {.deferrable = &st->deferred};
	st->deferred = (struct um_http_deferred){.server = s, .connection = connection};
	st->dispatched = true;
	source_of(connection, &req.source);
	rt->fn(rt->ctx, &req, &resp);
	if (!st->deferred.requested)
		return send_response(connection, &resp);
	free(resp.body);
	pthread_mutex_lock(&s->defer_lock);
	if (st->deferred.finished) {
		pthread_mutex_unlock(&s->defer_lock);
		return send_response(connection, &st->deferred.response);
	}
	MHD_suspend_connection(connection);
	st->deferred.suspended = true;
	pthread_mutex_unlock(&s->defer_lock);
	return MHD_YES;
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *connection, const char *url, const char *method,
				  const char *version, const char *upload_data, size_t *upload_data_size,
				  void **con_cls)
{
	struct um_http_server *s = cls;
	struct request_state *st = *con_cls;

	(void)version;
	if (!st) {
		st = calloc(1, sizeof(*st));
		if (!st)
			return MHD_NO;
		*con_cls = st;
		bool path_known;
		const struct route *rt = route_find(s, url, method, &path_known);
		st->max_body = rt && rt->max_body ? rt->max_body : s->config.max_body;
		/* Refuse a declared oversized body before reading any of it. */
		const char *length = MHD_lookup_connection_value(connection, MHD_HEADER_KIND, "Content-Length");
		if (length) {
			char *end;
			errno = 0;
			unsigned long long n = strtoull(length, &end, 10);
			if (errno || *end || end == length || n > st->max_body)
				return send_error(connection, 413, "request body too large");
		}
		return MHD_YES;
	}
	if (*upload_data_size) {
		size_t n = *upload_data_size;
		*upload_data_size = 0;
		if (st->too_large || n > st->max_body - st->len) {
			st->too_large = true;
			free(st->body);
			st->body = NULL;
			st->len = st->cap = 0;
			return MHD_YES;
		}
		if (st->len + n + 1 > st->cap) {
			/* Doubling: a body of megabytes arrives in many pieces. */
			size_t cap = st->cap ? st->cap * 2 : 4096;
			cap = cap < st->len + n + 1 ? st->len + n + 1 : cap;
			cap = cap > st->max_body + 1 ? st->max_body + 1 : cap;
			uint8_t *grown = realloc(st->body, cap);
			if (!grown)
				return MHD_NO;
			st->body = grown;
			st->cap = cap;
		}
		memcpy(st->body + st->len, upload_data, n);
		st->len += n;
		st->body[st->len] = 0; /* handlers may treat it as text */
		return MHD_YES;
	}
	if (st->too_large)
		return send_error(connection, 413, "request body too large");
	if (st->dispatched) {
		/* Resumed: the deferred response is there (finish resumed us). */
		if (!st->deferred.finished)
			return MHD_YES;
		return send_response(connection, &st->deferred.response);
	}
	return dispatch(s, connection, url, method, st);
}

static void on_completed(void *cls, struct MHD_Connection *connection, void **con_cls,
			 enum MHD_RequestTerminationCode code)
{
	struct request_state *st = *con_cls;

	(void)cls;
	(void)connection;
	(void)code;
	if (st) {
		free(st->body);
		free(st->deferred.response.body);
		free(st);
		*con_cls = NULL;
	}
}

__attribute__((format(printf, 2, 0))) static void on_mhd_log(void *cls, const char *fmt, va_list ap)
{
	char text[256];

	(void)cls;
	vsnprintf(text, sizeof(text), fmt, ap);
	text[strcspn(text, "\n")] = 0;
	um_log_debug("http: %s", text);
}

/* The whole file into a NUL-terminated buffer (*out, malloc'ed, owned by the
 * caller; *len without the NUL). */
static int read_pem(const char *path, char **out, size_t *len)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	char *buf = NULL;
	size_t n = 0;
	int r = 0;

	*out = NULL;
	if (fd < 0)
		return -errno;
	buf = malloc(PEM_MAX + 1);
	if (!buf) {
		r = -UM_ENOMEM;
		goto out;
	}
	for (;;) {
		ssize_t k = read(fd, buf + n, PEM_MAX - n);
		if (k < 0) {
			if (errno == EINTR)
				continue;
			r = -errno;
			goto out;
		}
		if (k == 0)
			break;
		n += (size_t)k;
		if (n == PEM_MAX) {
			r = -UM_ERANGE;
			goto out;
		}
	}
	buf[n] = 0;
	*out = buf;
	*len = n;
	buf = NULL;
out:
	if (buf) {
		sodium_memzero(buf, PEM_MAX + 1);
		free(buf);
	}
	close(fd);
	return r;
}

static int load_tls(struct um_http_server *s)
{
	size_t cert_len;
	int r;

	if (!s->config.certificate || !s->config.key) {
		um_log_error("http: TLS needs both a certificate and a key");
		return -UM_ECONFIG;
	}
	if (MHD_is_feature_supported(MHD_FEATURE_TLS) != MHD_YES) {
		um_log_error("http: this libmicrohttpd has no TLS");
		return -UM_ECONFIG;
	}
	r = read_pem(s->config.certificate, &s->certificate_pem, &cert_len);
	if (r) {
		um_log_error("http: certificate %s: %s", s->config.certificate, um_strerror(r));
		return -UM_ECONFIG;
	}
	r = read_pem(s->config.key, &s->key_pem, &s->key_len);
	if (r) {
		um_log_error("http: key %s: %s", s->config.key, um_strerror(r));
		return -UM_ECONFIG;
	}
	return 0;
}

int um_http_server_start(struct um_http_server *s)
{
	struct sockaddr_storage sa;
	unsigned flags = MHD_USE_AUTO_INTERNAL_THREAD | MHD_USE_ERROR_LOG | MHD_ALLOW_SUSPEND_RESUME;
	const union MHD_DaemonInfo *info;
	int len, r;

	if (s->daemon)
		return -UM_ESTATE;
	len = um_addr_to_sockaddr(&s->config.listen, &sa);
	if (len < 0)
		return -UM_EINVAL;
	if (s->config.listen.family == UM_ADDR_IPV6)
		flags |= MHD_USE_IPv6;
	bool tls = s->config.certificate || s->config.key;
	if (tls) {
		r = load_tls(s);
		if (r)
			return r;
		flags |= MHD_USE_TLS;
	}
	/* MHD takes a pointer per option; the TLS pair only when used. */
	struct MHD_OptionItem tls_options[] = {
	    {MHD_OPTION_HTTPS_MEM_CERT, 0, s->certificate_pem},
	    {MHD_OPTION_HTTPS_MEM_KEY, 0, s->key_pem},
	    {MHD_OPTION_END, 0, NULL},
	};
	s->daemon = MHD_start_daemon(
	    flags, s->config.listen.port, NULL, NULL, on_request, s, MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&sa,
	    MHD_OPTION_CONNECTION_LIMIT, (unsigned)s->config.max_connections, MHD_OPTION_PER_IP_CONNECTION_LIMIT,
	    (unsigned)s->config.per_ip_connections, MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)s->config.timeout_s,
	    MHD_OPTION_NOTIFY_COMPLETED, on_completed, s, MHD_OPTION_EXTERNAL_LOGGER, on_mhd_log, s, MHD_OPTION_ARRAY,
	    tls ? tls_options : &tls_options[2], MHD_OPTION_END);
	if (!s->daemon) {
		char text[UM_ADDR_TEXT_MAX];
		um_addr_format(&s->config.listen, text, sizeof(text));
		um_log_error("http: cannot listen on %s", text);
		return -EADDRNOTAVAIL;
	}
	info = MHD_get_daemon_info(s->daemon, MHD_DAEMON_INFO_BIND_PORT);
	s->port = info ? info->port : s->config.listen.port;
	return 0;
}

uint16_t um_http_server_port(const struct um_http_server *s)
{
	return s->port;
}

void um_http_server_free(struct um_http_server *s)
{
	if (!s)
		return;
	if (s->daemon)
		MHD_stop_daemon(s->daemon);
	if (s->key_pem) {
		sodium_memzero(s->key_pem, s->key_len);
		free(s->key_pem);
	}
	free(s->certificate_pem);
	pthread_mutex_destroy(&s->defer_lock);
	free(s);
}
