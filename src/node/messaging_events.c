/* SPDX-License-Identifier: MIT */
/* What the messaging files show (node/messaging.h describes the forms): a
 * growable text buffer, the JSON and text renderings of messages, files and
 * presence, and the events written to inbox-follow clients. Below
 * messaging_files.c, messaging.c and messaging_control.c. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "msg/ladder.h"
#include "node/messaging_internal.h"

/* ---- a growable text buffer for one JSON document or event line ---- */

void msg_text_put(struct msg_text *t, const char *s, size_t n)
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

void msg_text_putf(struct msg_text *t, const char *fmt, ...)
{
	char buf[512];
	va_list ap;

	va_start(ap, fmt);
	int n = vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	if (n > 0)
		msg_text_put(t, buf, (size_t)n < sizeof(buf) ? (size_t)n : sizeof(buf) - 1);
}

/* A JSON string of UTF-8 text (validated before it was stored). */
void msg_text_json(struct msg_text *t, const uint8_t *s, size_t n)
{
	msg_text_lit(t, "\"");
	for (size_t i = 0; i < n; i++) {
		uint8_t c = s[i];
		if (c == '"' || c == '\\') {
			char e[2] = {'\\', (char)c};
			msg_text_put(t, e, 2);
		} else if (c < 0x20 || c == 0x7f) {
			msg_text_putf(t, "\\u%04x", c);
		} else {
			msg_text_put(t, (const char *)&c, 1);
		}
	}
	msg_text_lit(t, "\"");
}

void msg_text_hex(struct msg_text *t, const uint8_t *b, size_t n)
{
	static const char digits[] = "0123456789abcdef";

	for (size_t i = 0; i < n; i++) {
		char h[2] = {digits[b[i] >> 4], digits[b[i] & 15]};
		msg_text_put(t, h, 2);
	}
}

void msg_text_pct(struct msg_text *t, const void *data, size_t n)
{
	size_t need = um_control_percent_encode(data, n, NULL, 0);
	char *buf = malloc(need + 1);

	if (!buf) {
		t->failed = true;
		return;
	}
	um_control_percent_encode(data, n, buf, need + 1);
	msg_text_put(t, buf, need);
	free(buf);
}

/* ---- names ---- */

const char *msg_out_state_name(uint8_t s)
{
	static const char *const names[] = {"queued", "sent", "delivered", "read", "refused"};
	return s < 5 ? names[s] : "?";
}

const char *msg_in_state_name(uint8_t s)
{
	return s == UM_STORE_IN_READ ? "read" : "new";
}

const char *msg_file_state_name(uint8_t s)
{
	static const char *const names[] = {"offered", "accepted", "active", "done", "refused", "failed"};
	return s < 6 ? names[s] : "?";
}

const char *msg_presence_name(uint8_t s)
{
	static const char *const names[] = {"offline", "online", "away", "busy"};
	return s < 4 ? names[s] : "?";
}

/* The configured name of a peer by its ID bytes, else its ID text. */
const char *msg_peer_label(struct um_node_messaging *ms, const uint8_t peer[32], char *buf, size_t size)
{
	struct um_node_peer *p = um_node_peer_find(ms->node, (const struct um_peer_id *)peer);

	if (p)
		return p->config->name;
	if (um_peer_id_format((const struct um_peer_id *)peer, buf, size))
		snprintf(buf, size, "?");
	return buf;
}

/* ---- renderings ---- */

void msg_render_message_json(struct um_node_messaging *ms, struct msg_text *t, const struct um_store_message *m)
{
	char label[UM_PEER_ID_TEXT_MAX], id[UM_PEER_ID_TEXT_MAX];

	if (um_peer_id_format((const struct um_peer_id *)m->peer, id, sizeof(id)))
		id[0] = '\0';
	msg_text_putf(t, "{\"seq\":%lld,\"direction\":\"%s\",\"peer\":", (long long)m->seq, m->outgoing ? "out" : "in");
	const char *name = msg_peer_label(ms, m->peer, label, sizeof(label));
	msg_text_json(t, (const uint8_t *)name, strlen(name));
	msg_text_putf(t, ",\"peer_id\":\"%s\",\"id\":\"", id);
	msg_text_hex(t, m->id, 16);
	msg_text_putf(t, "\",\"kind\":\"%s\",", m->kind == UM_MESSAGE_TEXT ? "text" : "binary");
	if (m->kind == UM_MESSAGE_TEXT) {
		msg_text_lit(t, "\"text\":");
		msg_text_json(t, m->body, m->len);
	} else {
		msg_text_lit(t, "\"body_hex\":\"");
		msg_text_hex(t, m->body, m->len);
		msg_text_lit(t, "\"");
	}
	msg_text_putf(t, ",\"sent_ms\":%llu,\"received_ms\":%llu,\"state\":\"%s\"", (unsigned long long)m->sent_ms,
		      (unsigned long long)m->received_ms,
		      m->outgoing ? msg_out_state_name(m->state) : msg_in_state_name(m->state));
	/* The ladder's rung that carried it (msg/ladder.h); null: not yet. */
	if (m->via)
		msg_text_putf(t, ",\"via\":\"%s\"}", um_ladder_rung_name(m->via));
	else
		msg_text_lit(t, ",\"via\":null}");
}

void msg_render_message_text(struct um_node_messaging *ms, struct msg_text *t, const struct um_store_message *m)
{
	char label[UM_PEER_ID_TEXT_MAX];

	msg_text_putf(t, "%lld %s %s %s %llu %llu ", (long long)m->seq, m->outgoing ? "out" : "in",
		      msg_peer_label(ms, m->peer, label, sizeof(label)),
		      m->outgoing ? msg_out_state_name(m->state) : msg_in_state_name(m->state),
		      (unsigned long long)m->sent_ms, (unsigned long long)m->received_ms);
	msg_text_hex(t, m->id, 16);
	msg_text_put(t, m->kind == UM_MESSAGE_TEXT ? " text " : " binary ", m->kind == UM_MESSAGE_TEXT ? 6 : 8);
	if (m->kind == UM_MESSAGE_TEXT)
		msg_text_pct(t, m->body, m->len);
	else
		msg_text_hex(t, m->body, m->len);
}

void msg_render_file_json(struct um_node_messaging *ms, struct msg_text *t, const struct um_store_file *f,
			  uint64_t bytes_sent)
{
	char label[UM_PEER_ID_TEXT_MAX];
	const char *name = msg_peer_label(ms, f->peer, label, sizeof(label));

	msg_text_lit(t, "{\"id\":\"");
	msg_text_hex(t, f->id, 16);
	msg_text_putf(t, "\",\"direction\":\"%s\",\"peer\":", f->outgoing ? "out" : "in");
	msg_text_json(t, (const uint8_t *)name, strlen(name));
	msg_text_lit(t, ",\"name\":");
	msg_text_json(t, (const uint8_t *)f->name, strlen(f->name));
	msg_text_lit(t, ",\"path\":");
	msg_text_json(t, (const uint8_t *)f->path, strlen(f->path));
	msg_text_putf(
	    t, ",\"state\":\"%s\",\"size\":%llu,\"bytes_done\":%llu,\"bytes_sent\":%llu,\"chunk_size\":%u,\"hash\":\"",
	    msg_file_state_name(f->state), (unsigned long long)f->size, (unsigned long long)f->bytes_done,
	    (unsigned long long)bytes_sent, f->chunk_size);
	msg_text_hex(t, f->hash, 32);
	msg_text_putf(t, "\",\"created_ms\":%llu,\"updated_ms\":%llu}", (unsigned long long)f->created_ms,
		      (unsigned long long)f->updated_ms);
}

void msg_render_file_text(struct um_node_messaging *ms, struct msg_text *t, const struct um_store_file *f)
{
	char label[UM_PEER_ID_TEXT_MAX];

	msg_text_hex(t, f->id, 16);
	msg_text_putf(t, " %s %s %s %llu %llu ", f->outgoing ? "out" : "in",
		      msg_peer_label(ms, f->peer, label, sizeof(label)), msg_file_state_name(f->state),
		      (unsigned long long)f->bytes_done, (unsigned long long)f->size);
	msg_text_pct(t, f->name, strlen(f->name));
}

/* ---- events to followers ---- */

static bool followed(struct um_node_messaging *ms)
{
	return ms->node->control_started && um_control_server_followers(&ms->node->control) > 0;
}

static void notify(struct um_node_messaging *ms, struct msg_text *json, struct msg_text *text)
{
	if (!json->failed && !text->failed)
		um_control_server_notify(&ms->node->control, json->data, json->len, text->data, text->len);
	free(json->data);
	free(text->data);
}

void msg_notify_message(struct um_node_messaging *ms, const struct um_store_message *m)
{
	struct msg_text json = {0}, text = {0};
	char label[UM_PEER_ID_TEXT_MAX];

	if (ms->listener.message && !m->outgoing)
		ms->listener.message(ms->listener.ctx, msg_peer_label(ms, m->peer, label, sizeof(label)), m);
	if (!followed(ms))
		return;
	msg_text_lit(&json, "{\"event\":\"message\",\"message\":");
	msg_render_message_json(ms, &json, m);
	msg_text_lit(&json, "}");
	msg_text_lit(&text, "message ");
	msg_render_message_text(ms, &text, m);
	notify(ms, &json, &text);
}

void msg_notify_receipt(struct um_node_messaging *ms, struct msg_peer *mp, const uint8_t id[16], uint8_t state)
{
	struct msg_text json = {0}, text = {0};

	if (ms->listener.receipt)
		ms->listener.receipt(ms->listener.ctx, msg_peer_name(mp), id, state);
	if (!followed(ms))
		return;
	msg_text_lit(&json, "{\"event\":\"receipt\",\"id\":\"");
	msg_text_hex(&json, id, 16);
	msg_text_lit(&json, "\",\"peer\":");
	msg_text_json(&json, (const uint8_t *)msg_peer_name(mp), strlen(msg_peer_name(mp)));
	msg_text_putf(&json, ",\"state\":\"%s\"}", msg_out_state_name(state));
	msg_text_lit(&text, "receipt ");
	msg_text_hex(&text, id, 16);
	msg_text_putf(&text, " %s %s", msg_peer_name(mp), msg_out_state_name(state));
	notify(ms, &json, &text);
}

void msg_render_presence_json(struct msg_text *t, const char *who, uint8_t state, uint64_t last_seen_ms,
			      const char *text)
{
	msg_text_lit(t, "{\"peer\":");
	msg_text_json(t, (const uint8_t *)who, strlen(who));
	msg_text_putf(t, ",\"state\":\"%s\",\"last_seen_ms\":%llu,\"text\":", msg_presence_name(state),
		      (unsigned long long)last_seen_ms);
	msg_text_json(t, (const uint8_t *)text, strlen(text));
	msg_text_lit(t, "}");
}

void msg_notify_presence(struct um_node_messaging *ms, struct msg_peer *mp)
{
	struct msg_text json = {0}, text = {0};

	if (ms->listener.presence)
		ms->listener.presence(ms->listener.ctx, msg_peer_name(mp), mp->presence_state, mp->presence_text,
				      mp->presence_last_seen_ms);
	if (!followed(ms))
		return;
	msg_text_lit(&json, "{\"event\":\"presence\",\"presence\":");
	msg_render_presence_json(&json, msg_peer_name(mp), mp->presence_state, mp->presence_last_seen_ms,
				 mp->presence_text);
	msg_text_lit(&json, "}");
	msg_text_putf(&text, "presence %s %s %llu ", msg_peer_name(mp), msg_presence_name(mp->presence_state),
		      (unsigned long long)mp->presence_last_seen_ms);
	msg_text_pct(&text, mp->presence_text, strlen(mp->presence_text));
	notify(ms, &json, &text);
}

void msg_notify_file(struct um_node_messaging *ms, const struct um_store_file *f)
{
	struct msg_text json = {0}, text = {0};
	char label[UM_PEER_ID_TEXT_MAX];

	if (ms->listener.file)
		ms->listener.file(ms->listener.ctx, msg_peer_label(ms, f->peer, label, sizeof(label)), f);
	if (!followed(ms))
		return;
	msg_text_lit(&json, "{\"event\":\"file\",\"file\":");
	msg_render_file_json(ms, &json, f, 0);
	msg_text_lit(&json, "}");
	msg_text_lit(&text, "file ");
	msg_render_file_text(ms, &text, f);
	notify(ms, &json, &text);
}
