/* SPDX-License-Identifier: MIT */
/* The messaging ops of the control socket (ctl/control.h); the text and
 * JSON forms are messaging_events.c's (node/messaging.h describes them).
 * Top of the messaging files. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "node/messaging_internal.h"
#include "node/offline.h"
#include "util/clock.h"
#include "util/error.h"
#include "util/log.h"

enum {
	INBOX_LIMIT_DEFAULT = 1000,
	INBOX_LIMIT_MAX = 100000,
	REPLY_BUDGET = 3 << 20, /* a listing stops here (more=1) below UM_CONTROL_REPLY_MAX */
};

/* ---- the ops ---- */

/* Test hook (tests/netns/msg_hostile.sh), live only when the daemon runs
 * with UMBRA_TEST_HOOKS=1 in its environment: a binary send= whose body
 * starts with "UMBRA-TEST-FRAME" writes the rest to the peer's messenger
 * as one frame (first byte the type, then the payload), one starting with
 * "UMBRA-TEST-BYTES" writes the rest to the channel as raw stream bytes
 * (a frame header of any length). Nothing is stored. Returns 1 when the
 * body was not a hook, else 0 or -UM_E*. */
static int test_hook(struct um_node_messaging *ms, struct msg_peer *mp, const struct um_control_request *req,
		     struct um_control_reply *reply)
{
	const char *on = getenv("UMBRA_TEST_HOOKS");
	const uint8_t *b = req->body;
	size_t n = req->body_len;
	int r;

	if (req->kind != UM_MESSAGE_BINARY || !on || strcmp(on, "1") || n < 17)
		return 1;
	if (memcmp(b, "UMBRA-TEST-FRAME", 16) && memcmp(b, "UMBRA-TEST-BYTES", 16))
		return 1;
	if (!mp->messenger)
		return -UM_ESTATE;
	if (!memcmp(b, "UMBRA-TEST-FRAME", 16))
		r = um_messenger_send_frame(mp->messenger, b[16], b + 17, n - 17);
	else
		r = um_channel_write(um_messenger_channel(mp->messenger), b + 16, n - 16);
	if (r)
		return r;
	um_log_warn("test hook: %zu raw bytes written to \"%s\"", n - 16, msg_peer_name(mp));
	um_control_reply_add(reply, "state", "%s", "raw");
	msg_pump(ms, mp);
	return 0;
}

int um_node_message_send(struct um_node *node, const char *peer, const void *body, size_t len, uint8_t kind,
			 uint8_t id_out[16], int64_t *seq_out)
{
	struct um_node_messaging *ms = node->messaging;
	struct msg_peer *mp = ms ? msg_peer_find(ms, peer) : NULL;
	struct um_store_message m = {
	    .outgoing = true,
	    .kind = kind,
	    .sent_ms = um_wall_ms(),
	    .state = UM_STORE_OUT_QUEUED,
	    .body = body,
	    .len = len,
	};

	if (!ms)
		return -UM_ESTATE; /* relay-only */
	if (!mp)
		return -UM_ENOTFOUND;
	if (kind != UM_MESSAGE_TEXT && kind != UM_MESSAGE_BINARY)
		return -UM_EINVAL;
	if (kind == UM_MESSAGE_TEXT && !um_message_text_valid(body, len))
		return -UM_EINVAL; /* the peer would refuse it */
	memcpy(m.peer, mp->peer->config->id.bytes, 32);
	randombytes_buf(m.id, sizeof(m.id));
	int r = um_store_outbox_add(ms->store, &m);
	if (r)
		return r;
	m.seq = um_store_last_seq(ms->store);
	if (id_out)
		memcpy(id_out, m.id, sizeof(m.id));
	if (seq_out)
		*seq_out = m.seq;
	msg_notify_message(ms, &m);
	mp->outbox_due = true;
	msg_pump(ms, mp);
	um_node_offline_kick(ms, mp); /* the ladder: queued if no session comes */
	return 0;
}

static int op_send(struct um_node_messaging *ms, const struct um_control_request *req, struct um_control_reply *reply)
{
	struct msg_peer *mp = msg_peer_find(ms, req->target);
	uint8_t id[16];
	int64_t seq;
	char hex[33];
	int r;

	if (!mp)
		return -UM_ENOTFOUND;
	r = test_hook(ms, mp, req, reply);
	if (r <= 0)
		return r;
	r = um_node_message_send(ms->node, req->target, req->body, req->body_len, req->kind, id, &seq);
	if (r)
		return r;
	sodium_bin2hex(hex, sizeof(hex), id, sizeof(id));
	um_control_reply_add(reply, "id", "%s", hex);
	um_control_reply_add(reply, "seq", "%lld", (long long)seq);
	um_control_reply_add(reply, "state", "%s", mp->messenger ? "sending" : "queued");
	return 0;
}

struct listing {
	struct um_node_messaging *ms;
	struct um_control_reply *reply;
	struct msg_text json; /* JSON: the array */
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
	struct msg_text t = {0};

	if (l->reply->len + l->json.len > REPLY_BUDGET) {
		l->more = true;
		return 1;
	}
	if (l->format == UM_CONTROL_FORMAT_JSON && !l->json_lines) {
		msg_text_put(&l->json, l->n ? "," : "[", 1);
		msg_render_message_json(l->ms, &l->json, m);
	} else if (l->json_lines) {
		msg_text_lit(&t, "{\"event\":\"message\",\"message\":");
		msg_render_message_json(l->ms, &t, m);
		msg_text_lit(&t, "}");
	} else {
		if (!strcmp(l->key, "event"))
			msg_text_lit(&t, "message ");
		msg_render_message_text(l->ms, &t, m);
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
		msg_text_put(&l.json, l.n ? "]" : "[]", l.n ? 1 : 2);
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
	struct msg_text json;
	const struct um_control_request *req;
	size_t n;
};

static int list_file(void *ctx, const struct um_store_file *stored)
{
	struct file_listing *l = ctx;
	struct msg_text t = {0};
	uint64_t bytes_sent = 0;

	if (l->req->has_id && memcmp(stored->id, l->req->id, 16))
		return 0;
	const struct um_store_file *f = msg_files_live(l->ms, stored->id, stored->outgoing, &bytes_sent);
	if (!f)
		f = stored;
	if (l->req->format == UM_CONTROL_FORMAT_JSON) {
		msg_text_put(&l->json, l->n ? "," : "[", 1);
		msg_render_file_json(l->ms, &l->json, f, bytes_sent);
	} else {
		msg_render_file_text(l->ms, &t, f);
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
		msg_text_put(&l.json, l.n ? "]" : "[]", l.n ? 1 : 2);
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

int um_node_file_send(struct um_node *node, const char *peer, const char *path, uint8_t id_out[16])
{
	struct um_node_messaging *ms = node->messaging;
	struct msg_peer *mp = ms ? msg_peer_find(ms, peer) : NULL;
	uint8_t id[16];

	if (!ms)
		return -UM_ESTATE;
	if (!mp)
		return -UM_ENOTFOUND;
	int r = msg_files_send(ms, mp, path, id);
	if (r)
		return r;
	msg_pump(ms, mp);
	if (id_out)
		memcpy(id_out, id, sizeof(id));
	return 0;
}

static int op_file_send(struct um_node_messaging *ms, const struct um_control_request *req,
			struct um_control_reply *reply)
{
	uint8_t id[16];
	char hex[33];
	int r = um_node_file_send(ms->node, req->target, req->path, id);

	if (r)
		return r;
	sodium_bin2hex(hex, sizeof(hex), id, sizeof(id));
	um_control_reply_add(reply, "id", "%s", hex);
	return 0;
}

int um_node_presence_set(struct um_node *node, uint8_t state, const char *text)
{
	struct um_node_messaging *ms = node->messaging;

	if (!ms)
		return -UM_ESTATE;
	if (state > UM_PRESENCE_BUSY || (text && !um_message_text_valid((const uint8_t *)text, strlen(text))))
		return -UM_EINVAL;
	ms->self_state = state;
	snprintf(ms->self_text, sizeof(ms->self_text), "%.256s", text ? text : "");
	int r = um_store_self_presence_put(ms->store, ms->self_state, um_wall_ms(), ms->self_text);
	if (r)
		um_log_warn("our presence not stored: %s", um_strerror(r));
	msg_presence_changed(ms);
	return 0;
}

/* What a peer's presence shows: theirs while a session is up; offline
 * (with the last time they told us something) when none is. */
static const char *shown_state(const struct msg_peer *mp)
{
	if (mp->peer->state != UM_PEER_ESTABLISHED)
		return "offline";
	return mp->has_presence ? msg_presence_name(mp->presence_state) : "unknown";
}

static int op_presence(struct um_node_messaging *ms, const struct um_control_request *req,
		       struct um_control_reply *reply)
{
	struct msg_text t = {0};

	if (req->presence_set)
		return um_node_presence_set(ms->node, req->state, req->text);
	if (req->format == UM_CONTROL_FORMAT_JSON) {
		msg_text_lit(&t, "{\"self\":");
		msg_render_presence_json(&t, "", ms->self_state, um_wall_ms(), ms->self_text);
		msg_text_lit(&t, ",\"peers\":[");
		for (size_t i = 0; i < ms->n_peers; i++) {
			const struct msg_peer *mp = &ms->peers[i];
			if (i)
				msg_text_lit(&t, ",");
			uint8_t state = mp->has_presence && mp->peer->state == UM_PEER_ESTABLISHED
					    ? mp->presence_state
					    : UM_PRESENCE_OFFLINE;
			msg_render_presence_json(&t, msg_peer_name(mp), state, mp->presence_last_seen_ms,
						 mp->presence_text);
		}
		msg_text_lit(&t, "]}");
		if (!t.failed)
			um_control_reply_add_raw(reply, "json", t.data, t.len);
		free(t.data);
		return t.failed ? -UM_ENOMEM : 0;
	}
	um_control_reply_add(reply, "self_state", "%s", msg_presence_name(ms->self_state));
	msg_text_pct(&t, ms->self_text, strlen(ms->self_text));
	um_control_reply_add_raw(reply, "self_text", t.data ? t.data : "", t.len);
	for (size_t i = 0; i < ms->n_peers; i++) {
		const struct msg_peer *mp = &ms->peers[i];
		um_control_reply_add(reply, "peer", "%s", msg_peer_name(mp));
		um_control_reply_add(reply, "state", "%s", shown_state(mp));
		t.len = 0;
		msg_text_pct(&t, mp->presence_text, strlen(mp->presence_text));
		um_control_reply_add_raw(reply, "text", t.data ? t.data : "", t.len);
		um_control_reply_add(reply, "last_seen_ms", "%llu", (unsigned long long)mp->presence_last_seen_ms);
	}
	free(t.data);
	return t.failed ? -UM_ENOMEM : 0;
}

int um_node_file_decide(struct um_node *node, const uint8_t id[16], bool accept, const char *reason)
{
	struct um_node_messaging *ms = node->messaging;
	struct msg_peer *mp = NULL;
	int r;

	if (!ms)
		return -UM_ESTATE;
	r = msg_files_decide(ms, id, accept, reason ? reason : "", &mp);
	if (r == 0)
		msg_pump(ms, mp); /* the request or the refusal goes */
	return r;
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

int um_node_message_read(struct um_node *node, const uint8_t id[16])
{
	struct um_node_messaging *ms = node->messaging;
	struct read_target rt = {0};
	int r;

	if (!ms)
		return -UM_ESTATE;
	r = um_store_message_get(ms->store, id, false, find_incoming, &rt);
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
		msg_queue_ack(mp, id, UM_RECEIPT_READ, NULL);
		msg_pump(ms, mp);
		um_node_offline_receipt(ms, mp, id, UM_RECEIPT_READ); /* no session: to its mailboxes */
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
		return um_node_file_decide(node, req->id, req->op == UM_CONTROL_FILE_ACCEPT, req->text);
	case UM_CONTROL_PRESENCE:
		return op_presence(ms, req, reply);
	case UM_CONTROL_READ:
		return um_node_message_read(node, req->id);
	default:
		return -UM_EINVAL;
	}
}

void um_node_messaging_listen(struct um_node *node, const struct um_messaging_listener *listener)
{
	struct um_node_messaging *ms = node->messaging;

	if (!ms)
		return;
	if (listener)
		ms->listener = *listener;
	else
		memset(&ms->listener, 0, sizeof(ms->listener));
}
