/* SPDX-License-Identifier: MIT */
/* The messaging ops of the control socket (ctl/control.h) and the events
 * written to inbox-follow clients; the text and JSON forms are described
 * in node/messaging.h. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "node/messaging_internal.h"
#include "util/clock.h"
#include "util/error.h"
#include "util/log.h"

enum {
	INBOX_LIMIT_DEFAULT = 1000,
	INBOX_LIMIT_MAX = 100000,
	REPLY_BUDGET = 3 << 20, /* a listing stops here (more=1) below UM_CONTROL_REPLY_MAX */
};

/* ---- a growable text buffer for one JSON document or event line ---- */

struct text {
	char *data;
	size_t len, cap;
	bool failed;
};

static void put(struct text *t, const char *s, size_t n)
{
	if (t->failed)
		return;
	if (t->cap - t->len < n + 1) {
		size_t cap = t->cap ? t->cap : 1024;
		while (cap - t->len < n + 1)
			cap *= 2;
		char *grown = realloc(t->data, cap);
		if (!grown) {
			t->failed = true;
			return;
		}
		t->data = grown;
		t->cap = cap;
	}
	memcpy(t->data + t->len, s, n);
	t->len += n;
	t->data[t->len] = '\0';
}

static void putf(struct text *t, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void putf(struct text *t, const char *fmt, ...)
{
	char buf[512];
	va_list ap;

	va_start(ap, fmt);
	int n = vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	if (n > 0)
		put(t, buf, (size_t)n < sizeof(buf) ? (size_t)n : sizeof(buf) - 1);
}

/* A JSON string of UTF-8 text (validated before it was stored). */
static void put_json_string(struct text *t, const uint8_t *s, size_t n)
{
	put(t, "\"", 1);
	for (size_t i = 0; i < n; i++) {
		uint8_t c = s[i];
		if (c == '"' || c == '\\') {
			char e[2] = {'\\', (char)c};
			put(t, e, 2);
		} else if (c < 0x20 || c == 0x7f) {
			putf(t, "\\u%04x", c);
		} else {
			put(t, (const char *)&c, 1);
		}
	}
	put(t, "\"", 1);
}

static void put_hex(struct text *t, const uint8_t *b, size_t n)
{
	static const char digits[] = "0123456789abcdef";

	for (size_t i = 0; i < n; i++) {
		char h[2] = {digits[b[i] >> 4], digits[b[i] & 15]};
		put(t, h, 2);
	}
}

static void put_pct(struct text *t, const void *data, size_t n)
{
	size_t need = um_control_percent_encode(data, n, NULL, 0);
	char *buf = malloc(need + 1);

	if (!buf) {
		t->failed = true;
		return;
	}
	um_control_percent_encode(data, n, buf, need + 1);
	put(t, buf, need);
	free(buf);
}

/* ---- names ---- */

static const char *out_state_name(uint8_t s)
{
	static const char *const names[] = {"queued", "sent", "delivered", "read", "refused"};
	return s < 5 ? names[s] : "?";
}

static const char *in_state_name(uint8_t s)
{
	return s == UM_STORE_IN_READ ? "read" : "new";
}

static const char *file_state_name(uint8_t s)
{
	static const char *const names[] = {"offered", "accepted", "active", "done", "refused", "failed"};
	return s < 6 ? names[s] : "?";
}

static const char *presence_name(uint8_t s)
{
	static const char *const names[] = {"offline", "online", "away", "busy"};
	return s < 4 ? names[s] : "?";
}

/* The configured name of a peer by its ID bytes, else its ID text. */
static const char *peer_label(struct um_node_messaging *ms, const uint8_t peer[32], char *buf, size_t size)
{
	struct um_node_peer *p = um_node_peer_find(ms->node, (const struct um_peer_id *)peer);

	if (p)
		return p->config->name;
	if (um_peer_id_format((const struct um_peer_id *)peer, buf, size))
		snprintf(buf, size, "?");
	return buf;
}

/* ---- renderings ---- */

static void message_json(struct um_node_messaging *ms, struct text *t, const struct um_store_message *m)
{
	char label[UM_PEER_ID_TEXT_MAX], id[UM_PEER_ID_TEXT_MAX];

	if (um_peer_id_format((const struct um_peer_id *)m->peer, id, sizeof(id)))
		id[0] = '\0';
	putf(t, "{\"seq\":%lld,\"direction\":\"%s\",\"peer\":", (long long)m->seq, m->outgoing ? "out" : "in");
	const char *name = peer_label(ms, m->peer, label, sizeof(label));
	put_json_string(t, (const uint8_t *)name, strlen(name));
	putf(t, ",\"peer_id\":\"%s\",\"id\":\"", id);
	put_hex(t, m->id, 16);
	putf(t, "\",\"kind\":\"%s\",", m->kind == UM_MESSAGE_TEXT ? "text" : "binary");
	if (m->kind == UM_MESSAGE_TEXT) {
		put(t, "\"text\":", 7);
		put_json_string(t, m->body, m->len);
	} else {
		put(t, "\"body_hex\":\"", 12);
		put_hex(t, m->body, m->len);
		put(t, "\"", 1);
	}
	putf(t, ",\"sent_ms\":%llu,\"received_ms\":%llu,\"state\":\"%s\"}", (unsigned long long)m->sent_ms,
	     (unsigned long long)m->received_ms, m->outgoing ? out_state_name(m->state) : in_state_name(m->state));
}

static void message_text(struct um_node_messaging *ms, struct text *t, const struct um_store_message *m)
{
	char label[UM_PEER_ID_TEXT_MAX];

	putf(t, "%lld %s %s %s %llu %llu ", (long long)m->seq, m->outgoing ? "out" : "in",
	     peer_label(ms, m->peer, label, sizeof(label)),
	     m->outgoing ? out_state_name(m->state) : in_state_name(m->state), (unsigned long long)m->sent_ms,
	     (unsigned long long)m->received_ms);
	put_hex(t, m->id, 16);
	put(t, m->kind == UM_MESSAGE_TEXT ? " text " : " binary ", m->kind == UM_MESSAGE_TEXT ? 6 : 8);
	if (m->kind == UM_MESSAGE_TEXT)
		put_pct(t, m->body, m->len);
	else
		put_hex(t, m->body, m->len);
}

static void file_json(struct um_node_messaging *ms, struct text *t, const struct um_store_file *f, uint64_t bytes_sent)
{
	char label[UM_PEER_ID_TEXT_MAX];
	const char *name = peer_label(ms, f->peer, label, sizeof(label));

	put(t, "{\"id\":\"", 7);
	put_hex(t, f->id, 16);
	putf(t, "\",\"direction\":\"%s\",\"peer\":", f->outgoing ? "out" : "in");
	put_json_string(t, (const uint8_t *)name, strlen(name));
	put(t, ",\"name\":", 8);
	put_json_string(t, (const uint8_t *)f->name, strlen(f->name));
	put(t, ",\"path\":", 8);
	put_json_string(t, (const uint8_t *)f->path, strlen(f->path));
	putf(t, ",\"state\":\"%s\",\"size\":%llu,\"bytes_done\":%llu,\"bytes_sent\":%llu,\"chunk_size\":%u,\"hash\":\"",
	     file_state_name(f->state), (unsigned long long)f->size, (unsigned long long)f->bytes_done,
	     (unsigned long long)bytes_sent, f->chunk_size);
	put_hex(t, f->hash, 32);
	putf(t, "\",\"created_ms\":%llu,\"updated_ms\":%llu}", (unsigned long long)f->created_ms,
	     (unsigned long long)f->updated_ms);
}

static void file_text(struct um_node_messaging *ms, struct text *t, const struct um_store_file *f)
{
	char label[UM_PEER_ID_TEXT_MAX];

	put_hex(t, f->id, 16);
	putf(t, " %s %s %s %llu %llu ", f->outgoing ? "out" : "in", peer_label(ms, f->peer, label, sizeof(label)),
	     file_state_name(f->state), (unsigned long long)f->bytes_done, (unsigned long long)f->size);
	put_pct(t, f->name, strlen(f->name));
}

/* ---- events to followers ---- */

static bool followed(struct um_node_messaging *ms)
{
	return ms->node->control_started && um_control_server_followers(&ms->node->control) > 0;
}

static void notify(struct um_node_messaging *ms, struct text *json, struct text *text)
{
	if (!json->failed && !text->failed)
		um_control_server_notify(&ms->node->control, json->data, json->len, text->data, text->len);
	free(json->data);
	free(text->data);
}

void msg_notify_message(struct um_node_messaging *ms, const struct um_store_message *m)
{
	struct text json = {0}, text = {0};

	if (!followed(ms))
		return;
	put(&json, "{\"event\":\"message\",\"message\":", 29);
	message_json(ms, &json, m);
	put(&json, "}", 1);
	put(&text, "message ", 8);
	message_text(ms, &text, m);
	notify(ms, &json, &text);
}

void msg_notify_receipt(struct um_node_messaging *ms, struct msg_peer *mp, const uint8_t id[16], uint8_t state)
{
	struct text json = {0}, text = {0};

	if (!followed(ms))
		return;
	put(&json, "{\"event\":\"receipt\",\"id\":\"", 25);
	put_hex(&json, id, 16);
	put(&json, "\",\"peer\":", 9);
	put_json_string(&json, (const uint8_t *)msg_peer_name(mp), strlen(msg_peer_name(mp)));
	putf(&json, ",\"state\":\"%s\"}", out_state_name(state));
	put(&text, "receipt ", 8);
	put_hex(&text, id, 16);
	putf(&text, " %s %s", msg_peer_name(mp), out_state_name(state));
	notify(ms, &json, &text);
}

static void presence_json(struct text *t, const char *who, uint8_t state, uint64_t last_seen_ms, const char *text)
{
	put(t, "{\"peer\":", 8);
	put_json_string(t, (const uint8_t *)who, strlen(who));
	putf(t, ",\"state\":\"%s\",\"last_seen_ms\":%llu,\"text\":", presence_name(state),
	     (unsigned long long)last_seen_ms);
	put_json_string(t, (const uint8_t *)text, strlen(text));
	put(t, "}", 1);
}

void msg_notify_presence(struct um_node_messaging *ms, struct msg_peer *mp)
{
	struct text json = {0}, text = {0};

	if (!followed(ms))
		return;
	put(&json, "{\"event\":\"presence\",\"presence\":", 31);
	presence_json(&json, msg_peer_name(mp), mp->presence_state, mp->presence_last_seen_ms, mp->presence_text);
	put(&json, "}", 1);
	putf(&text, "presence %s %s %llu ", msg_peer_name(mp), presence_name(mp->presence_state),
	     (unsigned long long)mp->presence_last_seen_ms);
	put_pct(&text, mp->presence_text, strlen(mp->presence_text));
	notify(ms, &json, &text);
}

void msg_notify_file(struct um_node_messaging *ms, const struct um_store_file *f)
{
	struct text json = {0}, text = {0};

	if (!followed(ms))
		return;
	put(&json, "{\"event\":\"file\",\"file\":", 23);
	file_json(ms, &json, f, 0);
	put(&json, "}", 1);
	put(&text, "file ", 5);
	file_text(ms, &text, f);
	notify(ms, &json, &text);
}

/* ---- the ops ---- */

static int op_send(struct um_node_messaging *ms, const struct um_control_request *req, struct um_control_reply *reply)
{
	struct msg_peer *mp = msg_peer_find(ms, req->target);
	struct um_store_message m = {
	    .outgoing = true,
	    .kind = req->kind,
	    .sent_ms = um_wall_ms(),
	    .state = UM_STORE_OUT_QUEUED,
	    .body = req->body,
	    .len = req->body_len,
	};
	char hex[33];

	if (!mp)
		return -UM_ENOTFOUND;
	if (req->kind == UM_MESSAGE_TEXT && !um_message_text_valid(req->body, req->body_len))
		return -UM_EINVAL; /* the peer would refuse it */
	memcpy(m.peer, mp->peer->config->id.bytes, 32);
	randombytes_buf(m.id, sizeof(m.id));
	int r = um_store_outbox_add(ms->store, &m);
	if (r)
		return r;
	m.seq = um_store_last_seq(ms->store);
	sodium_bin2hex(hex, sizeof(hex), m.id, sizeof(m.id));
	um_control_reply_add(reply, "id", "%s", hex);
	um_control_reply_add(reply, "seq", "%lld", (long long)m.seq);
	um_control_reply_add(reply, "state", "%s", mp->messenger ? "sending" : "queued");
	msg_notify_message(ms, &m);
	msg_outbox_kick(ms, mp);
	return 0;
}

struct listing {
	struct um_node_messaging *ms;
	struct um_control_reply *reply;
	struct text json; /* JSON: the array */
	enum um_control_format format;
	const char *key; /* text lines: "message" or "event" */
	bool json_lines; /* inbox-follow json: one json= line per message */
	size_t n;
	int64_t last;
	bool more;
};

static int list_message(void *ctx, const struct um_store_message *m)
{
	struct listing *l = ctx;
	struct text t = {0};

	if (l->reply->len + l->json.len > REPLY_BUDGET) {
		l->more = true;
		return 1;
	}
	if (l->format == UM_CONTROL_FORMAT_JSON && !l->json_lines) {
		put(&l->json, l->n ? "," : "[", 1);
		message_json(l->ms, &l->json, m);
	} else if (l->json_lines) {
		put(&t, "{\"event\":\"message\",\"message\":", 29);
		message_json(l->ms, &t, m);
		put(&t, "}", 1);
	} else {
		if (!strcmp(l->key, "event"))
			put(&t, "message ", 8);
		message_text(l->ms, &t, m);
	}
	if (t.len)
		um_control_reply_add_raw(l->reply, l->json_lines ? "json" : l->key, t.data, t.len);
	free(t.data);
	if (t.failed || l->json.failed)
		return -UM_ENOMEM;
	l->n++;
	l->last = m->seq;
	return 0;
}

static int op_inbox(struct um_node_messaging *ms, const struct um_control_request *req, struct um_control_reply *reply,
		    bool follow)
{
	struct listing l = {.ms = ms, .reply = reply, .format = req->format, .key = follow ? "event" : "message"};
	const uint8_t *peer = NULL;
	size_t limit = req->limit ? req->limit : INBOX_LIMIT_DEFAULT;

	if (req->peer_filter[0]) {
		struct msg_peer *mp = msg_peer_find(ms, req->peer_filter);
		if (!mp)
			return -UM_ENOTFOUND;
		peer = mp->peer->config->id.bytes;
	}
	if (follow) {
		if (!req->has_after)
			return 0; /* only what happens from now on */
		l.json_lines = req->format == UM_CONTROL_FORMAT_JSON;
		limit = INBOX_LIMIT_MAX;
	}
	if (limit > INBOX_LIMIT_MAX)
		limit = INBOX_LIMIT_MAX;
	l.last = (int64_t)req->after;
	int r = um_store_messages(ms->store, (int64_t)req->after, limit, peer, list_message, &l);
	if (r < 0) {
		free(l.json.data);
		return r;
	}
	if (follow && l.more)
		return -UM_ELIMIT; /* a backlog with a gap would mislead: ask with a later after= */
	if (!follow && req->format == UM_CONTROL_FORMAT_JSON) {
		put(&l.json, l.n ? "]" : "[]", l.n ? 1 : 2);
		if (l.json.failed) {
			free(l.json.data);
			return -UM_ENOMEM;
		}
		um_control_reply_add_raw(reply, "json", l.json.data, l.json.len);
	}
	free(l.json.data);
	if (!follow) {
		um_control_reply_add(reply, "last", "%lld", (long long)l.last);
		um_control_reply_add(reply, "more", "%d", l.more || l.n == limit);
	}
	return 0;
}

struct file_listing {
	struct um_node_messaging *ms;
	struct um_control_reply *reply;
	struct text json;
	const struct um_control_request *req;
	size_t n;
};

static int list_file(void *ctx, const struct um_store_file *stored)
{
	struct file_listing *l = ctx;
	struct text t = {0};
	uint64_t bytes_sent = 0;

	if (l->req->has_id && memcmp(stored->id, l->req->id, 16))
		return 0;
	const struct um_store_file *f = msg_files_live(l->ms, stored->id, stored->outgoing, &bytes_sent);
	if (!f)
		f = stored;
	if (l->req->format == UM_CONTROL_FORMAT_JSON) {
		put(&l->json, l->n ? "," : "[", 1);
		file_json(l->ms, &l->json, f, bytes_sent);
	} else {
		file_text(l->ms, &t, f);
		um_control_reply_add_raw(l->reply, "file", t.data, t.len);
		if (f->outgoing)
			um_control_reply_add(l->reply, "bytes_sent", "%llu", (unsigned long long)bytes_sent);
	}
	free(t.data);
	l->n++;
	return t.failed || l->json.failed ? -UM_ENOMEM : 0;
}

static int op_file_list(struct um_node_messaging *ms, const struct um_control_request *req,
			struct um_control_reply *reply)
{
	struct file_listing l = {.ms = ms, .reply = reply, .req = req};
	int r = um_store_file_list(ms->store, list_file, &l);

	if (r == 0 && req->format == UM_CONTROL_FORMAT_JSON) {
		put(&l.json, l.n ? "]" : "[]", l.n ? 1 : 2);
		if (l.json.failed)
			r = -UM_ENOMEM;
		else
			um_control_reply_add_raw(reply, "json", l.json.data, l.json.len);
	}
	free(l.json.data);
	if (r == 0 && req->has_id && l.n == 0)
		r = -UM_ENOTFOUND;
	return r;
}

static int op_file_send(struct um_node_messaging *ms, const struct um_control_request *req,
			struct um_control_reply *reply)
{
	struct msg_peer *mp = msg_peer_find(ms, req->target);
	uint8_t id[16];
	char hex[33];

	if (!mp)
		return -UM_ENOTFOUND;
	int r = msg_files_send(ms, mp, req->path, id);
	if (r)
		return r;
	sodium_bin2hex(hex, sizeof(hex), id, sizeof(id));
	um_control_reply_add(reply, "id", "%s", hex);
	return 0;
}

static int op_presence(struct um_node_messaging *ms, const struct um_control_request *req,
		       struct um_control_reply *reply)
{
	struct text t = {0};

	if (req->presence_set) {
		ms->self_state = req->state;
		snprintf(ms->self_text, sizeof(ms->self_text), "%.256s", req->text);
		int r = um_store_self_presence_put(ms->store, ms->self_state, um_wall_ms(), ms->self_text);
		if (r)
			um_log_warn("our presence not stored: %s", um_strerror(r));
		msg_presence_changed(ms);
		return 0;
	}
	if (req->format == UM_CONTROL_FORMAT_JSON) {
		put(&t, "{\"self\":", 8);
		presence_json(&t, "", ms->self_state, um_wall_ms(), ms->self_text);
		put(&t, ",\"peers\":[", 10);
		for (size_t i = 0; i < ms->n_peers; i++) {
			const struct msg_peer *mp = &ms->peers[i];
			if (i)
				put(&t, ",", 1);
			presence_json(&t, msg_peer_name(mp), mp->has_presence ? mp->presence_state : 0,
				      mp->presence_last_seen_ms, mp->presence_text);
		}
		put(&t, "]}", 2);
		if (!t.failed)
			um_control_reply_add_raw(reply, "json", t.data, t.len);
		free(t.data);
		return t.failed ? -UM_ENOMEM : 0;
	}
	um_control_reply_add(reply, "self_state", "%s", presence_name(ms->self_state));
	put_pct(&t, ms->self_text, strlen(ms->self_text));
	um_control_reply_add_raw(reply, "self_text", t.data ? t.data : "", t.len);
	for (size_t i = 0; i < ms->n_peers; i++) {
		const struct msg_peer *mp = &ms->peers[i];
		um_control_reply_add(reply, "peer", "%s", msg_peer_name(mp));
		um_control_reply_add(reply, "state", "%s",
				     mp->has_presence ? presence_name(mp->presence_state) : "unknown");
		t.len = 0;
		put_pct(&t, mp->presence_text, strlen(mp->presence_text));
		um_control_reply_add_raw(reply, "text", t.data ? t.data : "", t.len);
		um_control_reply_add(reply, "last_seen_ms", "%llu", (unsigned long long)mp->presence_last_seen_ms);
	}
	free(t.data);
	return t.failed ? -UM_ENOMEM : 0;
}

struct read_target {
	uint8_t peer[32];
	bool found;
	uint8_t state;
};

static int find_incoming(void *ctx, const struct um_store_message *m)
{
	struct read_target *rt = ctx;

	memcpy(rt->peer, m->peer, 32);
	rt->state = m->state;
	rt->found = true;
	return 1;
}

static int op_read(struct um_node_messaging *ms, const uint8_t id[16])
{
	struct read_target rt = {0};
	int r = um_store_message_get(ms->store, id, false, find_incoming, &rt);

	if (r < 0)
		return r;
	if (!rt.found)
		return -UM_ENOTFOUND;
	if (rt.state == UM_STORE_IN_READ)
		return 0;
	r = um_store_peer_message_set_state(ms->store, rt.peer, id, false, UM_STORE_IN_READ);
	if (r)
		return r;
	struct um_node_peer *peer = um_node_peer_find(ms->node, (const struct um_peer_id *)rt.peer);
	struct msg_peer *mp = peer ? msg_peer_of(peer) : NULL;
	if (mp) {
		msg_queue_ack(mp, id, UM_RECEIPT_READ);
		msg_outbox_kick(ms, mp);
	}
	return 0;
}

int um_node_messaging_control(struct um_node *node, const struct um_control_request *req,
			      struct um_control_reply *reply)
{
	struct um_node_messaging *ms = node->messaging;

	if (!ms)
		return -UM_ESTATE; /* relay-only */
	switch (req->op) {
	case UM_CONTROL_SEND:
		return op_send(ms, req, reply);
	case UM_CONTROL_INBOX:
		return op_inbox(ms, req, reply, false);
	case UM_CONTROL_INBOX_FOLLOW:
		return op_inbox(ms, req, reply, true);
	case UM_CONTROL_FILE_SEND:
		return op_file_send(ms, req, reply);
	case UM_CONTROL_FILE_LIST:
		return op_file_list(ms, req, reply);
	case UM_CONTROL_FILE_ACCEPT:
	case UM_CONTROL_FILE_REJECT:
		return msg_files_decide(ms, req->id, req->op == UM_CONTROL_FILE_ACCEPT, req->text);
	case UM_CONTROL_PRESENCE:
		return op_presence(ms, req, reply);
	case UM_CONTROL_READ:
		return op_read(ms, req->id);
	default:
		return -UM_EINVAL;
	}
}
