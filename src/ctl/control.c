/* SPDX-License-Identifier: MIT */
/* Control socket server. Everything runs on the control thread's loop; each
 * client is a small state machine: read the request (bounded, with a
 * deadline), run the handler once, write the reply, close. */
#include "ctl/control.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "ctl/control_message.h"
#include "util/clock.h"
#include "util/error.h"
#include "util/hex.h"
#include "util/log.h"

struct um_control_client {
	struct um_control_server *server;
	size_t slot;
	struct um_watch watch;
	struct um_timer deadline;
	char *in; /* grows up to um_control_request_cap() of the request */
	size_t in_len, in_cap;
	struct um_control_reply reply;
	size_t out_pos;
	bool writing;
	/* inbox-follow: after the reply, events are appended to reply and
	 * written as the socket takes them; the connection stays open. */
	bool follower;
	enum um_control_format follow_format;
};

static bool is_message_op(enum um_control_op op)
{
	return op >= UM_CONTROL_SEND;
}

/* ---- request parsing (untrusted) ---- */

static bool line_is(const char *line, size_t len, const char *key, const char **value, size_t *vlen)
{
	size_t klen = strlen(key);

	if (len <= klen || memcmp(line, key, klen) || line[klen] != '=')
		return false;
	*value = line + klen + 1;
	*vlen = len - klen - 1;
	return true;
}

/* value= of dht-put: an even number of hex digits appended to req->value. */
static int parse_hex_piece(struct um_control_request *req, const char *hex, size_t len)
{
	if (len == 0 || len % 2 || req->value_len + len / 2 > sizeof(req->value))
		return -UM_EINVAL;
	for (size_t i = 0; i < len; i += 2) {
		int hi = um_hex_digit((unsigned char)hex[i]), lo = um_hex_digit((unsigned char)hex[i + 1]);
		if (hi < 0 || lo < 0)
			return -UM_EINVAL;
		req->value[req->value_len++] = (uint8_t)(hi << 4 | lo);
	}
	return 0;
}

/* dht=..., dht-lookup=, dht-get=, dht-put=, dht-result=: 0 with req set,
 * -UM_EINVAL when the line is none of them (or a bad one). The argument is
 * kept as text (printable, no spaces) for the node to interpret. */
static int parse_dht(struct um_control_request *req, const char *line, size_t len)
{
	static const struct {
		const char *key;
		enum um_control_dht_op op;
	} ops[] = {{"dht-lookup", UM_CONTROL_DHT_LOOKUP},
		   {"dht-get", UM_CONTROL_DHT_GET},
		   {"dht-put", UM_CONTROL_DHT_PUT},
		   {"dht-result", UM_CONTROL_DHT_RESULT}};
	const char *value;
	size_t vlen;

	if (line_is(line, len, "dht", &value, &vlen)) {
		if (vlen == 6 && !memcmp(value, "status", 6))
			req->dht = UM_CONTROL_DHT_STATUS;
		else if (vlen == 4 && !memcmp(value, "json", 4))
			req->dht = UM_CONTROL_DHT_JSON;
		else
			return -UM_EINVAL;
		req->op = UM_CONTROL_DHT;
		return 0;
	}
	for (size_t i = 0; i < sizeof(ops) / sizeof(ops[0]); i++) {
		if (!line_is(line, len, ops[i].key, &value, &vlen))
			continue;
		if (vlen >= sizeof(req->arg))
			return -UM_EINVAL;
		for (size_t j = 0; j < vlen; j++)
			if ((unsigned char)value[j] <= ' ' || value[j] == 0x7f)
				return -UM_EINVAL;
		memcpy(req->arg, value, vlen);
		req->arg[vlen] = '\0';
		req->op = UM_CONTROL_DHT;
		req->dht = ops[i].op;
		return 0;
	}
	return -UM_EINVAL;
}

int um_control_parse_request(struct um_control_request *req, const char *buf, size_t len)
{
	size_t pos = 0;
	bool have_op = false;

	memset(req, 0, offsetof(struct um_control_request, body));
	if (len > um_control_request_cap(buf, len))
		return -UM_EINVAL;
	for (;;) {
		const char *nl = memchr(buf + pos, '\n', len - pos);
		if (!nl)
			return len - pos > UM_CONTROL_LINE_MAX ? -UM_EINVAL : -UM_ETRUNC;
		const char *line = buf + pos, *value;
		size_t line_len = (size_t)(nl - line), vlen;
		pos += line_len + 1;
		if (line_len == 0) /* the empty line ends the request */
			return have_op && pos == len ? um_control_message_check(req) : -UM_EINVAL;
		if (line_len > UM_CONTROL_LINE_MAX || memchr(line, '\0', line_len))
			return -UM_EINVAL;
		if (have_op && is_message_op(req->op)) {
			if (um_control_parse_message_arg(req, line, line_len))
				return -UM_EINVAL;
			continue;
		}
		if (have_op) {
			/* Only dht-put takes argument lines (its value). */
			if (req->op != UM_CONTROL_DHT || req->dht != UM_CONTROL_DHT_PUT ||
			    !line_is(line, line_len, "value", &value, &vlen) || parse_hex_piece(req, value, vlen))
				return -UM_EINVAL;
			continue;
		}
		if (parse_dht(req, line, line_len) == 0) {
			have_op = true;
			continue;
		}
		if (line_is(line, line_len, "get", &value, &vlen) && vlen == 1 && value[0] == '1') {
			req->op = UM_CONTROL_GET;
		} else if (line_is(line, line_len, "get", &value, &vlen) && vlen == 4 && !memcmp(value, "json", 4)) {
			req->op = UM_CONTROL_GET;
			req->format = UM_CONTROL_FORMAT_JSON;
		} else if (line_is(line, line_len, "get", &value, &vlen) && vlen == 10 &&
			   !memcmp(value, "json-peers", 10)) {
			req->op = UM_CONTROL_GET;
			req->format = UM_CONTROL_FORMAT_JSON_PEERS;
		} else if (line_is(line, line_len, "up", &value, &vlen) && vlen == 1 && value[0] == '1') {
			req->op = UM_CONTROL_UP;
		} else if (line_is(line, line_len, "down", &value, &vlen) && vlen == 1 && value[0] == '1') {
			req->op = UM_CONTROL_DOWN;
		} else if ((line_is(line, line_len, "rekey", &value, &vlen) ||
			    line_is(line, line_len, "ping", &value, &vlen)) &&
			   vlen < sizeof(req->peer)) {
			for (size_t i = 0; i < vlen; i++)
				if ((unsigned char)value[i] <= ' ' || value[i] == 0x7f)
					return -UM_EINVAL;
			req->op = line[0] == 'r' ? UM_CONTROL_REKEY : UM_CONTROL_PING;
			memcpy(req->peer, value, vlen);
			req->peer[vlen] = '\0';
		} else if (um_control_parse_message_op(req, line, line_len)) {
			return -UM_EINVAL;
		}
		have_op = true;
	}
}

/* ---- replies ---- */

static bool reply_reserve(struct um_control_reply *reply, size_t n)
{
	if (reply->overflow)
		return false;
	if (reply->cap - reply->len >= n)
		return true;
	size_t cap = reply->cap ? reply->cap : 4096;
	while (cap - reply->len < n)
		cap *= 2;
	if (cap > UM_CONTROL_REPLY_MAX) {
		reply->overflow = true;
		return false;
	}
	char *grown = realloc(reply->data, cap);
	if (!grown) {
		reply->overflow = true;
		return false;
	}
	reply->data = grown;
	reply->cap = cap;
	return true;
}

void um_control_reply_add_raw(struct um_control_reply *reply, const char *key, const char *value, size_t vlen)
{
	size_t klen = strlen(key);

	if (vlen > UM_CONTROL_REPLY_MAX || !reply_reserve(reply, klen + vlen + 2))
		return;
	char *out = reply->data + reply->len;
	memcpy(out, key, klen);
	out[klen] = '=';
	out += klen + 1;
	for (size_t i = 0; i < vlen; i++) {
		unsigned char c = (unsigned char)value[i];
		out[i] = c < ' ' || c == 0x7f ? '?' : (char)c;
	}
	out[vlen] = '\n';
	reply->len += klen + vlen + 2;
}

void um_control_reply_add(struct um_control_reply *reply, const char *key, const char *fmt, ...)
{
	char value[1024];
	va_list ap;

	va_start(ap, fmt);
	int n = vsnprintf(value, sizeof(value), fmt, ap);
	va_end(ap);
	if (n < 0)
		return;
	um_control_reply_add_raw(reply, key, value, strlen(value));
}

/* ---- clients ---- */

static void client_close(struct um_control_client *c)
{
	struct um_control_server *s = c->server;

	um_timer_cancel(s->loop, &c->deadline);
	um_loop_remove(s->loop, &c->watch);
	close(c->watch.fd);
	s->clients[c->slot] = NULL;
	free(c->reply.data);
	free(c->in);
	free(c);
}

/* Writes what the socket takes. A plain client is closed once its reply is
 * out; a follower stays, waiting for EPOLLOUT only while it has a backlog. */
static void client_write(struct um_control_client *c)
{
	while (c->out_pos < c->reply.len) {
		ssize_t n = send(c->watch.fd, c->reply.data + c->out_pos, c->reply.len - c->out_pos, MSG_NOSIGNAL);
		if (n < 0) {
			if (errno == EAGAIN || errno == EINTR) {
				if (c->follower)
					um_loop_modify(c->server->loop, &c->watch, EPOLLIN | EPOLLOUT);
				return; /* EPOLLOUT brings us back */
			}
			client_close(c);
			return;
		}
		c->out_pos += (size_t)n;
	}
	if (!c->follower) {
		client_close(c);
		return;
	}
	c->reply.len = c->out_pos = 0;
	um_loop_modify(c->server->loop, &c->watch, EPOLLIN);
}

static void client_run(struct um_control_client *c, int status)
{
	struct um_control_server *s = c->server;
	/* Large (a send= carries up to 64 KiB): not on the stack. */
	struct um_control_request *req = status == 0 ? malloc(sizeof(*req)) : NULL;

	if (status == 0 && !req)
		status = -ENOMEM;
	/* Protocol errors are plain errnos (EINVAL, EMSGSIZE) like the
	 * WireGuard UAPI; the handler's may be UM_E* codes (um_strerror). */
	if (status == 0 && um_control_parse_request(req, c->in, c->in_len))
		status = -EINVAL;
	if (status == 0 && req->op == UM_CONTROL_INBOX_FOLLOW &&
	    um_control_server_followers(s) >= UM_CONTROL_FOLLOWERS_MAX)
		status = -UM_ELIMIT;
	if (status == 0) {
		status = s->handler(s->handler_arg, req, &c->reply);
		if (c->reply.overflow) {
			/* Send only the error, never a truncated listing. */
			c->reply.overflow = false;
			c->reply.len = 0;
			status = -ENOBUFS;
		}
		if (status == 0 && req->op == UM_CONTROL_INBOX_FOLLOW) {
			c->follower = true;
			c->follow_format = req->format;
			um_timer_cancel(s->loop, &c->deadline);
		}
	} else {
		c->reply.len = 0;
	}
	free(req);
	free(c->in); /* one request per connection */
	c->in = NULL;
	c->in_len = c->in_cap = 0;
	if (status < 0)
		status = -status;
	um_control_reply_add(&c->reply, "errno", "%d", status);
	if (reply_reserve(&c->reply, 1))
		c->reply.data[c->reply.len++] = '\n';
	if (c->reply.overflow) {
		client_close(c);
		return;
	}
	c->writing = true;
	um_loop_modify(s->loop, &c->watch, EPOLLOUT);
	client_write(c);
}

/* A follower's socket became readable: it sends nothing more, so this is
 * its end (or junk, which ends it too). */
static bool follower_input(struct um_control_client *c)
{
	char junk[256];
	ssize_t n = recv(c->watch.fd, junk, sizeof(junk), 0);

	if (n < 0 && (errno == EAGAIN || errno == EINTR))
		return false;
	client_close(c);
	return true;
}

static void on_client(struct um_loop *loop, struct um_watch *watch, uint32_t events)
{
	struct um_control_client *c = watch->arg;
	(void)loop;

	if (c->follower) {
		if ((events & (EPOLLIN | EPOLLERR | EPOLLHUP)) && follower_input(c))
			return; /* closed */
		if (events & EPOLLOUT)
			client_write(c);
		return;
	}
	if (c->writing) {
		client_write(c);
		return;
	}
	if (events & (EPOLLERR | EPOLLHUP) && !(events & EPOLLIN)) {
		client_close(c);
		return;
	}
	for (;;) {
		/* dht-put and send= may be longer than the rest (their cap). */
		size_t cap = um_control_request_cap(c->in, c->in_len);
		if (c->in_len >= cap) {
			client_run(c, -EMSGSIZE);
			return;
		}
		if (c->in_cap - c->in_len < 4096 && c->in_cap < cap) {
			size_t grown_cap = c->in_cap ? c->in_cap * 2 : UM_CONTROL_REQUEST_SMALL + 1;
			if (grown_cap > cap)
				grown_cap = cap;
			char *grown = realloc(c->in, grown_cap);
			if (!grown) {
				client_close(c);
				return;
			}
			c->in = grown;
			c->in_cap = grown_cap;
		}
		size_t room = c->in_cap - c->in_len;
		if (room > cap - c->in_len)
			room = cap - c->in_len;
		ssize_t n = recv(watch->fd, c->in + c->in_len, room, 0);
		if (n < 0) {
			if (errno == EAGAIN || errno == EINTR)
				return;
			client_close(c);
			return;
		}
		if (n == 0) { /* peer closed before finishing its request */
			client_close(c);
			return;
		}
		c->in_len += (size_t)n;
		/* A request is complete when it ends with an empty line. */
		if ((c->in_len == 1 && c->in[0] == '\n') ||
		    (c->in_len >= 2 && c->in[c->in_len - 1] == '\n' && c->in[c->in_len - 2] == '\n')) {
			client_run(c, 0);
			return;
		}
	}
}

static void on_deadline(struct um_loop *loop, struct um_timer *timer)
{
	struct um_control_client *c = timer->arg;
	(void)loop;
	client_close(c);
}

static void on_accept(struct um_loop *loop, struct um_watch *watch, uint32_t events)
{
	struct um_control_server *s = watch->arg;
	(void)events;

	for (;;) {
		int fd = accept4(watch->fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
		if (fd < 0)
			return; /* EAGAIN, or a transient error: try on the next event */
		struct ucred cred;
		socklen_t cred_len = sizeof(cred);
		if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &cred_len) || cred.uid != geteuid()) {
			close(fd);
			continue;
		}
		size_t slot = 0;
		while (slot < UM_CONTROL_CLIENTS_MAX && s->clients[slot])
			slot++;
		struct um_control_client *c = slot < UM_CONTROL_CLIENTS_MAX ? calloc(1, sizeof(*c)) : NULL;
		if (!c) {
			close(fd);
			continue;
		}
		c->server = s;
		c->slot = slot;
		c->watch.fd = fd;
		c->watch.events = EPOLLIN;
		c->watch.fn = on_client;
		c->watch.arg = c;
		um_timer_init(&c->deadline, on_deadline, c);
		if (um_loop_add(loop, &c->watch)) {
			close(fd);
			free(c);
			continue;
		}
		s->clients[slot] = c;
		um_timer_arm_in(loop, &c->deadline, UM_CONTROL_TIMEOUT_MS * UM_NSEC_PER_MSEC);
	}
}

size_t um_control_server_followers(const struct um_control_server *s)
{
	size_t n = 0;

	for (size_t i = 0; i < UM_CONTROL_CLIENTS_MAX; i++)
		if (s->clients[i] && s->clients[i]->follower)
			n++;
	return n;
}

void um_control_server_notify(struct um_control_server *s, const char *json, size_t json_len, const char *text,
			      size_t text_len)
{
	for (size_t i = 0; i < UM_CONTROL_CLIENTS_MAX; i++) {
		struct um_control_client *c = s->clients[i];
		if (!c || !c->follower)
			continue;
		bool as_json = c->follow_format == UM_CONTROL_FORMAT_JSON;
		const char *value = as_json ? json : text;
		if (!value)
			continue;
		size_t len = as_json ? json_len : text_len;
		if (c->reply.len - c->out_pos + len > UM_CONTROL_FOLLOW_BUFFER_MAX) {
			client_close(c); /* too slow a reader: it reconnects with after= */
			continue;
		}
		bool idle = c->reply.len == c->out_pos;
		um_control_reply_add_raw(&c->reply, as_json ? "json" : "event", value, len);
		if (c->reply.overflow) {
			client_close(c);
			continue;
		}
		if (idle)
			client_write(c);
	}
}

/* ---- the listening socket ---- */

static int make_parent_dir(const char *path)
{
	char dir[UM_CONFIG_PATH_MAX];
	char *slash;

	snprintf(dir, sizeof(dir), "%s", path);
	slash = strrchr(dir, '/');
	if (!slash || slash == dir)
		return 0;
	*slash = '\0';
	if (mkdir(dir, 0755) && errno != EEXIST)
		return -errno;
	return 0;
}

/* A socket file left by a crashed daemon is removed; a live one is not. */
static int clear_stale(const struct sockaddr_un *addr)
{
	struct stat st;

	if (lstat(addr->sun_path, &st))
		return errno == ENOENT ? 0 : -errno;
	if (!S_ISSOCK(st.st_mode))
		return -EEXIST;
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	int r = connect(fd, (const struct sockaddr *)addr, sizeof(*addr));
	close(fd);
	if (r == 0)
		return -EADDRINUSE;
	if (unlink(addr->sun_path) && errno != ENOENT)
		return -errno;
	return 0;
}

int um_control_server_start(struct um_control_server *s, struct um_loop *loop, const char *path,
			    um_control_handler_fn handler, void *arg)
{
	struct sockaddr_un addr = {.sun_family = AF_UNIX};
	int r;

	memset(s, 0, sizeof(*s));
	s->watch.fd = -1;
	s->loop = loop;
	s->handler = handler;
	s->handler_arg = arg;
	if (strlen(path) >= sizeof(addr.sun_path))
		return -ENAMETOOLONG;
	memcpy(addr.sun_path, path, strlen(path) + 1);

	r = make_parent_dir(path);
	if (r)
		return r;
	r = clear_stale(&addr);
	if (r)
		return r;
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	/* umask closes the window between bind() and chmod(). */
	mode_t old_mask = umask(0077);
	r = bind(fd, (struct sockaddr *)&addr, sizeof(addr)) ? -errno : 0;
	umask(old_mask);
	if (r)
		goto err_close;
	if (chmod(path, 0600) || listen(fd, 16)) {
		r = -errno;
		goto err_unlink;
	}
	s->watch.fd = fd;
	s->watch.events = EPOLLIN;
	s->watch.fn = on_accept;
	s->watch.arg = s;
	r = um_loop_add(loop, &s->watch);
	if (r)
		goto err_unlink;
	snprintf(s->path, sizeof(s->path), "%s", path);
	return 0;

err_unlink:
	unlink(path);
err_close:
	close(fd);
	s->watch.fd = -1;
	return r;
}

void um_control_server_stop(struct um_control_server *s)
{
	for (size_t i = 0; i < UM_CONTROL_CLIENTS_MAX; i++)
		if (s->clients[i])
			client_close(s->clients[i]);
	if (s->watch.fd >= 0) {
		um_loop_remove(s->loop, &s->watch);
		close(s->watch.fd);
		s->watch.fd = -1;
	}
	if (s->path[0]) {
		unlink(s->path);
		s->path[0] = '\0';
	}
}
