/* SPDX-License-Identifier: MIT */
/* umbra dht (node/dht.h): status, and lookups/gets/puts started over the
 * control socket. A lookup takes round trips, the control socket answers
 * at once: a start returns `id=N`, and dht-result=N says `state=running`
 * or the result (the CLI polls, as umbra ping does). The last DHT_OPS_MAX
 * operations are kept.
 *
 * Replies are key=value lines; dht=json (and the results, for --json) are
 * the same lines as one JSON document: blocks starting with contact= or
 * recent= become arrays of objects, a key repeated in one block an array. */
#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "node/dht_internal.h"
#include "node/internal.h"
#include "util/clock.h"
#include "util/error.h"

static const char *kind_name(enum dht_op_kind kind)
{
	switch (kind) {
	case DHT_OP_LOOKUP:
		return "lookup";
	case DHT_OP_GET:
		return "get";
	case DHT_OP_PUT:
		return "put";
	case DHT_OP_FREE:
		break;
	}
	return "?";
}

static void add_hex(struct um_control_reply *reply, const char *key, const uint8_t *bytes, size_t len)
{
	char *hex = malloc(len * 2 + 1);

	if (!hex) {
		reply->overflow = true;
		return;
	}
	sodium_bin2hex(hex, len * 2 + 1, bytes, len);
	um_control_reply_add_raw(reply, key, hex, len * 2);
	free(hex);
}

static void add_id(struct um_control_reply *reply, const char *key, const struct um_peer_id *id)
{
	char text[UM_PEER_ID_TEXT_MAX];

	if (um_peer_id_format(id, text, sizeof(text)) == 0)
		um_control_reply_add(reply, key, "%s", text);
}

static void add_addr(struct um_control_reply *reply, const char *key, const struct um_addr *a)
{
	char text[UM_ADDR_TEXT_MAX];

	if (um_addr_format(a, text, sizeof(text)) == 0)
		um_control_reply_add(reply, key, "%s", text);
}

static const char *endpoint_kind(uint8_t kind)
{
	return kind == UM_DHT_ENDPOINT_REFLEXIVE ? "reflexive"
	       : kind == UM_DHT_ENDPOINT_LAN     ? "lan"
	       : kind == UM_DHT_ENDPOINT_MAPPED  ? "mapped"
						 : "?";
}

static void add_record(struct um_control_reply *reply, const struct um_dht_peer_record *rec)
{
	char ip[64];

	add_id(reply, "peer", &rec->id);
	um_control_reply_add(reply, "sequence", "%llu", (unsigned long long)rec->sequence);
	um_control_reply_add(reply, "expires", "%llu", (unsigned long long)rec->expires);
	for (unsigned i = 0; i < rec->endpoint_count; i++) {
		const struct um_dht_endpoint *e = &rec->endpoints[i];
		if (!inet_ntop(e->family, e->addr, ip, sizeof(ip)))
			continue;
		um_control_reply_add(reply, "endpoint", e->family == AF_INET6 ? "%s [%s]:%u" : "%s %s:%u",
				     endpoint_kind(e->kind), ip, e->port);
	}
	for (unsigned i = 0; i < rec->relay_count; i++) {
		char id[UM_PEER_ID_TEXT_MAX] = "?";
		um_peer_id_format_short(&rec->relays[i].id, id, sizeof(id));
		um_control_reply_add(reply, "relay", "%s %s:%s:%u", id,
				     rec->relays[i].transport == UM_DHT_TRANSPORT_WSS ? "wss" : "udp",
				     rec->relays[i].host, rec->relays[i].port);
	}
}

/* The node's DHT node, else (relay-only) the relay's. */
static struct um_node_dht *dht_of(struct um_node *node)
{
	return node->dht ? node->dht : node->relay_dht;
}

/* ---- found by: status ---- */

enum um_node_found um_node_dht_found(const struct um_node_peer *peer)
{
	const struct um_node *node = peer->node;

	if (peer->config->endpoint.family ||
	    (node->config.n_relays && !(node->dht && node->dht->peers[(size_t)(peer - node->peers)].found)))
		return UM_NODE_FOUND_CONFIG;
	enum um_node_found found =
	    node->dht ? node->dht->peers[(size_t)(peer - node->peers)].found : UM_NODE_FOUND_NONE;
	/* Reached through a relay the DHT gave us (no relay = line). */
	if (found == UM_NODE_FOUND_NONE && peer->via_relay && node->dht && node->dht->relays.handed)
		return UM_NODE_FOUND_DHT;
	if (found == UM_NODE_FOUND_NONE && peer->endpoint.family)
		return UM_NODE_FOUND_INCOMING;
	return found;
}

const char *um_node_found_name(enum um_node_found found)
{
	switch (found) {
	case UM_NODE_FOUND_CONFIG:
		return "config";
	case UM_NODE_FOUND_DHT:
		return "dht";
	case UM_NODE_FOUND_BOOTSTRAP:
		return "bootstrap";
	case UM_NODE_FOUND_INCOMING:
		return "incoming";
	case UM_NODE_FOUND_NONE:
		break;
	}
	return "none";
}

/* ---- status ---- */

static void status_lines(struct um_node *node, struct um_control_reply *reply)
{
	struct um_node_dht *d = dht_of(node);
	const struct um_dht_stats *st = um_dht_stats(d->engine);
	uint64_t now = um_now_ns();
	unsigned n = um_dht_contact_count(d->engine), buckets = 0;
	struct um_dht_contact_info *infos = calloc(n ? n : 1, sizeof(*infos));

	if (!infos) {
		reply->overflow = true;
		return;
	}
	n = um_dht_contacts(d->engine, infos, n);
	for (unsigned i = 0; i < n; i++)
		if (i == 0 || infos[i].bucket != infos[i - 1].bucket)
			buckets++;
	add_id(reply, "id", &d->identity->id);
	add_hex(reply, "id_hex", d->identity->id.bytes, sizeof(d->identity->id.bytes));
	um_control_reply_add(reply, "role", "%s", d->relay ? "relay" : "node");
	um_control_reply_add(reply, "network", "%s", d->has_network_key ? d->fingerprint : "public");
	um_control_reply_add(reply, "k", "%u", node->config.dht_k);
	um_control_reply_add(reply, "alpha", "%u", node->config.dht_alpha);
	um_control_reply_add(reply, "diversity", "%s",
			     (d->relay ? node->config.relay.dht_diversity : node->config.dht_diversity) ? "on" : "off");
	um_control_reply_add(reply, "contacts", "%u", n);
	um_control_reply_add(reply, "buckets", "%u", buckets);
	um_control_reply_add(reply, "stored", "%u", um_dht_stored_count(d->engine));
	um_control_reply_add(reply, "lookups_in_flight", "%u", um_dht_lookups_in_flight(d->engine));
	um_control_reply_add(reply, "memory_bytes", "%zu", um_dht_memory(d->engine));
	add_hex(reply, "publish_key", d->publish_key, sizeof(d->publish_key));
	um_control_reply_add(reply, "record_sequence", "%llu", (unsigned long long)d->sequence);
	um_control_reply_add(reply, "record_endpoints", "%u", d->n_endpoints);
	um_control_reply_add(reply, "publishes", "%llu", (unsigned long long)d->publishes);
	if (d->published_ns) {
		um_control_reply_add(reply, "record_storers", "%u", d->published_storers);
		um_control_reply_add(reply, "record_age_ms", "%llu",
				     (unsigned long long)((now - d->published_ns) / UM_NSEC_PER_MSEC));
		um_control_reply_add(reply, "publish_ms", "%llu",
				     (unsigned long long)(d->publish_elapsed_ns / UM_NSEC_PER_MSEC));
	}
	um_control_reply_add(reply, "lookups_found", "%llu", (unsigned long long)d->lookups_found);
	um_control_reply_add(reply, "lookups_failed", "%llu", (unsigned long long)d->lookups_failed);
	um_control_reply_add(reply, "state_file", "%s", d->state_path[0] ? d->state_path : "-");
	if (d->relays_job) { /* a node finding its relays in the DHT */
		um_control_reply_add(reply, "relays_found", "%u", d->relays.found);
		um_control_reply_add(reply, "relays_added", "%u", d->relays.handed);
	}
	um_control_reply_add(reply, "state_loaded_contacts", "%u", d->state_contacts);
	if (d->boot.started) {
		pthread_mutex_lock(&d->boot.lock);
		um_control_reply_add(reply, "bootstrap_registered", "%llu", (unsigned long long)d->boot.registered);
		um_control_reply_add(reply, "bootstrap_heartbeats", "%llu", (unsigned long long)d->boot.heartbeats);
		um_control_reply_add(reply, "bootstrap_listings", "%llu", (unsigned long long)d->boot.listings);
		um_control_reply_add(reply, "bootstrap_errors", "%llu", (unsigned long long)d->boot.errors);
		pthread_mutex_unlock(&d->boot.lock);
	}
	um_control_reply_add(reply, "bootstrap_contacts", "%llu", (unsigned long long)d->bootstrap_contacts);
#define STAT(f) um_control_reply_add(reply, #f, "%llu", (unsigned long long)st->f)
	STAT(received), STAT(sent), STAT(malformed), STAT(unsolicited), STAT(wrong_sender);
	STAT(proofs_sent), STAT(proofs_verified), STAT(proofs_failed);
	STAT(contacts_added), STAT(contacts_evicted), STAT(contacts_refused_diversity), STAT(contacts_replaced);
	STAT(timeouts), STAT(lookups_started), STAT(lookups_done), STAT(lookups_refused);
	STAT(values_found), STAT(values_invalid), STAT(values_stale);
	STAT(store_accepted), STAT(store_invalid), STAT(store_stale), STAT(store_no_cookie), STAT(store_rate_limited);
	STAT(store_full_node), STAT(store_full_key), STAT(store_full_source), STAT(store_too_big);
	STAT(values_expired);
#undef STAT
	for (unsigned i = 0; i < n; i++) {
		const struct um_dht_contact_info *c = &infos[i];
		add_id(reply, "contact", &c->contact.id);
		add_addr(reply, "addr", &c->contact.addr);
		um_control_reply_add(reply, "bucket", "%u", c->bucket);
		um_control_reply_add(reply, "srtt_us", "%llu", (unsigned long long)(c->srtt_ns / 1000));
		um_control_reply_add(reply, "rto_ms", "%llu", (unsigned long long)(c->rto_ns / UM_NSEC_PER_MSEC));
		um_control_reply_add(reply, "seen_ms", "%llu",
				     (unsigned long long)(c->last_seen_ns && now > c->last_seen_ns
							      ? (now - c->last_seen_ns) / UM_NSEC_PER_MSEC
							      : 0));
		um_control_reply_add(reply, "failures", "%u", c->failures);
	}
	free(infos);
	for (unsigned i = 0; i < d->n_recent; i++) {
		const struct dht_recent *r = &d->recent[(d->recent_next + DHT_RECENT_MAX - 1 - i) % DHT_RECENT_MAX];
		um_control_reply_add(reply, "recent", "%s", kind_name(r->kind));
		add_hex(reply, "key", r->key, 32);
		um_control_reply_add(reply, "elapsed_ms", "%llu",
				     (unsigned long long)(r->elapsed_ns / UM_NSEC_PER_MSEC));
		um_control_reply_add(reply, "messages", "%u", r->messages);
		um_control_reply_add(reply, "found", "%u", r->found);
	}
}

/* ---- key=value lines to JSON ---- */

struct line {
	const char *key, *value;
	size_t key_len, value_len;
};

static void json_raw_len(struct um_control_reply *out, const char *s, size_t len)
{
	if (out->overflow)
		return;
	if (out->len + len + 1 > out->cap) {
		size_t cap = (out->cap + len) * 2 + 64;
		char *grown = cap > UM_CONTROL_REPLY_MAX ? NULL : realloc(out->data, cap);
		if (!grown) {
			out->overflow = true;
			return;
		}
		out->data = grown;
		out->cap = cap;
	}
	memcpy(out->data + out->len, s, len);
	out->len += len;
}

static void json_raw(struct um_control_reply *out, const char *s)
{
	json_raw_len(out, s, strlen(s));
}

/* The values are our own lines: printable, no control characters. */
static void json_string(struct um_control_reply *out, const char *s, size_t len)
{
	json_raw(out, "\"");
	for (size_t i = 0; i < len; i++) {
		if (s[i] == '"' || s[i] == '\\')
			json_raw(out, "\\");
		json_raw_len(out, s + i, 1);
	}
	json_raw(out, "\"");
}

static bool is_number(const char *s, size_t len)
{
	if (!len || len > 19 || (len > 1 && s[0] == '0'))
		return false;
	for (size_t i = 0; i < len; i++)
		if (s[i] < '0' || s[i] > '9')
			return false;
	return true;
}

static void json_value(struct um_control_reply *out, const struct line *l)
{
	if (is_number(l->value, l->value_len)) {
		char num[24];
		snprintf(num, sizeof(num), "%.*s", (int)l->value_len, l->value);
		json_raw(out, num);
	} else {
		json_string(out, l->value, l->value_len);
	}
}

static bool key_is(const struct line *l, const char *key)
{
	return l->key_len == strlen(key) && !memcmp(l->key, key, l->key_len);
}

/* The members of lines[0..n): a key seen twice becomes an array. first:
 * nothing written in this object yet (updated). */
static void json_members(struct um_control_reply *out, const struct line *lines, size_t n, bool *first)
{
	for (size_t i = 0; i < n; i++) {
		bool seen = false, repeated = false;
		for (size_t j = 0; j < i && !seen; j++)
			seen = lines[j].key_len == lines[i].key_len &&
			       !memcmp(lines[j].key, lines[i].key, lines[i].key_len);
		if (seen)
			continue;
		for (size_t j = i + 1; j < n && !repeated; j++)
			repeated = lines[j].key_len == lines[i].key_len &&
				   !memcmp(lines[j].key, lines[i].key, lines[i].key_len);
		if (!*first)
			json_raw(out, ",");
		*first = false;
		json_string(out, lines[i].key, lines[i].key_len);
		json_raw(out, ":");
		if (!repeated) {
			json_value(out, &lines[i]);
			continue;
		}
		json_raw(out, "[");
		for (size_t j = i, k = 0; j < n; j++) {
			if (lines[j].key_len != lines[i].key_len ||
			    memcmp(lines[j].key, lines[i].key, lines[i].key_len))
				continue;
			if (k++)
				json_raw(out, ",");
			json_value(out, &lines[j]);
		}
		json_raw(out, "]");
	}
}

static void json_object(struct um_control_reply *out, const struct line *lines, size_t n)
{
	bool first = true;

	json_raw(out, "{");
	json_members(out, lines, n, &first);
	json_raw(out, "}");
}

/* The lines in text as JSON into reply (one json= line); arrays: the
 * contact= and recent= blocks of dht=status. */
static void to_json(const struct um_control_reply *text, struct um_control_reply *reply, bool arrays)
{
	static const char *const blocks[] = {"contact", "recent"};
	struct um_control_reply out = {0};
	size_t n = 0, cap = 64;
	struct line *lines = malloc(cap * sizeof(*lines));

	for (size_t pos = 0; lines && pos < text->len;) {
		const char *s = text->data + pos, *nl = memchr(s, '\n', text->len - pos), *eq;
		size_t len = nl ? (size_t)(nl - s) : text->len - pos;
		pos += len + 1;
		if (!(eq = memchr(s, '=', len)))
			continue;
		if (n == cap) {
			struct line *grown = realloc(lines, cap * 2 * sizeof(*lines));
			if (!grown)
				break;
			lines = grown, cap *= 2;
		}
		lines[n++] = (struct line){s, eq + 1, (size_t)(eq - s), len - (size_t)(eq - s) - 1};
	}
	if (!lines) {
		reply->overflow = true;
		return;
	}
	/* Top-level lines: up to the first block start. */
	size_t top = 0;
	while (arrays && top < n && !key_is(&lines[top], blocks[0]) && !key_is(&lines[top], blocks[1]))
		top++;
	if (!arrays)
		top = n;
	bool first = true;
	json_raw(&out, "{");
	json_members(&out, lines, top, &first);
	for (size_t b = 0; arrays && b < 2; b++) {
		json_raw(&out, b == 0 ? (first ? "\"contacts\":[" : ",\"contacts\":[") : ",\"recent\":[");
		for (size_t i = top, k = 0; i < n;) {
			if (!key_is(&lines[i], blocks[b])) {
				i++;
				continue;
			}
			size_t end = i + 1;
			while (end < n && !key_is(&lines[end], blocks[0]) && !key_is(&lines[end], blocks[1]))
				end++;
			if (k++)
				json_raw(&out, ",");
			json_object(&out, lines + i, end - i);
			i = end;
		}
		json_raw(&out, "]");
	}
	json_raw(&out, "}");
	if (out.overflow)
		reply->overflow = true;
	else
		um_control_reply_add_raw(reply, "json", out.data, out.len);
	free(out.data);
	free(lines);
}

/* ---- operations ---- */

static struct dht_op *op_new(struct um_node_dht *d, enum dht_op_kind kind)
{
	struct dht_op *op = &d->ops[d->next_op];

	d->next_op = (d->next_op + 1) % DHT_OPS_MAX;
	if (op->kind != DHT_OP_FREE && !op->done)
		for (unsigned i = 0; i < op->q.n; i++)
			if (op->q.running[i])
				um_dht_cancel(d->engine, op->q.ids[i]);
	free(op->value);
	memset(op, 0, sizeof(*op));
	op->kind = kind;
	return op;
}

static struct dht_op *op_find(struct um_node_dht *d, uint64_t id)
{
	for (unsigned i = 0; i < DHT_OPS_MAX; i++)
		if (d->ops[i].kind != DHT_OP_FREE && d->ops[i].q.ids[0] == id)
			return &d->ops[i];
	return NULL;
}

static void op_finish(struct um_node_dht *d, struct dht_op *op)
{
	bool found = op->kind == DHT_OP_LOOKUP ? op->has_record : op->kind == DHT_OP_GET ? op->values > 0 : op->storers;

	op->done = true;
	um_node_dht_recent_add(d, op->kind, op->q.keys[0], &op->q, found);
}

void um_node_dht_op_event(struct um_node_dht *d, struct dht_op *op, const struct um_dht_event *e)
{
	int slot = -1;

	for (unsigned i = 0; i < op->q.n; i++)
		if (op->q.running[i] && op->q.ids[i] == e->id)
			slot = (int)i;
	if (slot < 0)
		return;
	if (e->type == UM_DHT_EVENT_VALUE) {
		struct um_dht_peer_record rec;
		op->values++;
		if (op->kind == DHT_OP_GET && !op->value && (op->value = malloc(e->value_len))) {
			memcpy(op->value, e->value, e->value_len);
			op->value_len = e->value_len;
		}
		if (op->kind == DHT_OP_LOOKUP &&
		    um_node_dht_record_decode(d, &op->peer, e->key, e->value, e->value_len, &rec) == 0 &&
		    (!op->has_record || rec.sequence > op->record.sequence)) {
			op->record = rec;
			op->has_record = true;
		}
		return;
	}
	if (e->type != UM_DHT_EVENT_LOOKUP_DONE && e->type != UM_DHT_EVENT_PUT_DONE)
		return;
	op->q.running[slot] = false;
	if (e->elapsed_ns > op->q.elapsed_ns)
		op->q.elapsed_ns = e->elapsed_ns;
	op->q.messages += e->messages;
	op->q.n_closest = e->n_closest > op->q.n_closest ? e->n_closest : op->q.n_closest;
	op->storers += e->storers;
	for (unsigned i = 0; i < op->q.n; i++)
		if (op->q.running[i])
			return;
	op_finish(d, op);
}

static int parse_key(const char *text, uint8_t key[32])
{
	size_t len = 0;

	if (strlen(text) != 64 || sodium_hex2bin(key, 32, text, 64, NULL, &len, NULL) || len != 32)
		return -UM_EINVAL;
	return 0;
}

static int start_lookup(struct um_node *node, const char *arg, struct um_control_reply *reply)
{
	struct um_node_dht *d = dht_of(node);
	struct um_peer_id id;
	const struct um_node_peer *named = NULL;

	for (size_t i = 0; i < node->n_peers && !named; i++)
		if (!strcmp(node->peers[i].config->name, arg))
			named = &node->peers[i];
	if (named)
		id = named->config->id;
	else if (um_peer_id_parse(&id, arg))
		return -UM_EINVAL;
	struct dht_op *op = op_new(d, DHT_OP_LOOKUP);
	op->peer = id;
	op->q.n = um_node_dht_peer_keys(d, &id, op->q.keys);
	int r = um_node_dht_query_start(d, &op->q);
	if (r) {
		op->kind = DHT_OP_FREE;
		return r;
	}
	um_control_reply_add(reply, "id", "%llu", (unsigned long long)op->q.ids[0]);
	return 0;
}

static int start_get(struct um_node *node, const char *arg, struct um_control_reply *reply)
{
	struct um_node_dht *d = dht_of(node);
	uint8_t key[32];

	if (parse_key(arg, key))
		return -UM_EINVAL;
	struct dht_op *op = op_new(d, DHT_OP_GET);
	op->q.n = 1;
	memcpy(op->q.keys[0], key, 32);
	int r = um_node_dht_query_start(d, &op->q);
	if (r) {
		op->kind = DHT_OP_FREE;
		return r;
	}
	um_control_reply_add(reply, "id", "%llu", (unsigned long long)op->q.ids[0]);
	return 0;
}

static int start_put(struct um_node *node, const struct um_control_request *req, struct um_control_reply *reply)
{
	struct um_node_dht *d = dht_of(node);
	uint8_t key[32];
	int r;

	if (!strcmp(req->arg, "self")) {
		r = um_node_dht_publish(d);
		if (r)
			return r;
		struct dht_op *op = op_new(d, DHT_OP_PUT);
		op->q.n = 1;
		op->q.ids[0] = d->publish_id;
		op->q.running[0] = true;
		op->q.started_ns = um_now_ns();
		memcpy(op->q.keys[0], d->publish_key, 32);
		um_control_reply_add(reply, "id", "%llu", (unsigned long long)op->q.ids[0]);
		return 0;
	}
	if (parse_key(req->arg, key) || !req->value_len)
		return -UM_EINVAL;
	struct dht_op *op = op_new(d, DHT_OP_PUT);
	op->q.n = 1;
	memcpy(op->q.keys[0], key, 32);
	op->q.started_ns = um_now_ns();
	r = um_dht_put(d->engine, key, req->value, req->value_len, um_now_ns(), &op->q.ids[0], d->out);
	op->q.running[0] = r == 0; /* before the flush: its events may come at once */
	um_node_dht_flush(d);
	if (r) {
		op->kind = DHT_OP_FREE;
		return r;
	}
	um_control_reply_add(reply, "id", "%llu", (unsigned long long)op->q.ids[0]);
	return 0;
}

/* A value found by get: what a reader of it can tell. */
static void describe_value(struct um_node *node, const struct dht_op *op, struct um_control_reply *reply)
{
	struct um_node_dht *d = dht_of(node);
	const uint8_t *v = op->value;
	struct um_dht_peer_record rec;
	uint8_t type = op->value_len > 1 ? v[1] : 0;

	um_control_reply_add(reply, "value_len", "%zu", op->value_len);
	um_control_reply_add(reply, "value_type", "%s",
			     type == UM_DHT_RECORD_PEER            ? "peer"
			     : type == UM_DHT_RECORD_RELAY         ? "relay"
			     : type == UM_DHT_RECORD_PRIVATE       ? "private"
			     : type == UM_DHT_RECORD_PRIVATE_RELAY ? "private-relay"
								   : "?");
	bool opened = false;
	if (type == UM_DHT_RECORD_PEER &&
	    um_dht_peer_record_verify(&rec, op->q.keys[0], v, op->value_len,
				      um_dht_record_clock_unix(&d->clock, um_now_ns())) == 0)
		opened = true;
	/* Sealed: only a member opens it, knowing whose it is (one of our peers). */
	for (size_t i = 0; type == UM_DHT_RECORD_PRIVATE && d->has_network_key && !opened && i < node->n_peers; i++)
		opened = um_node_dht_record_decode(d, &node->peers[i].config->id, op->q.keys[0], v, op->value_len,
						   &rec) == 0;
	if (type == UM_DHT_RECORD_PRIVATE && d->has_network_key && !opened)
		opened = um_node_dht_record_decode(d, &d->identity->id, op->q.keys[0], v, op->value_len, &rec) == 0;
	um_control_reply_add(reply, "sealed", "%u",
			     type == UM_DHT_RECORD_PRIVATE || type == UM_DHT_RECORD_PRIVATE_RELAY);
	struct um_dht_relay_record relay;
	bool relay_ok = type == UM_DHT_RECORD_RELAY &&
			um_dht_relay_record_verify(&relay, op->q.keys[0], v, op->value_len,
						   um_dht_record_clock_unix(&d->clock, um_now_ns())) == 0;
	um_control_reply_add(reply, "opened", "%u", opened || relay_ok);
	if (opened)
		add_record(reply, &rec);
	if (relay_ok) {
		char ip[64];
		add_id(reply, "relay", &relay.id);
		for (unsigned i = 0; i < relay.udp_count; i++)
			if (inet_ntop(relay.udp[i].family, relay.udp[i].addr, ip, sizeof(ip)))
				um_control_reply_add(reply, "relay_udp",
						     relay.udp[i].family == AF_INET6 ? "[%s]:%u" : "%s:%u", ip,
						     relay.udp[i].port);
		if (relay.wss_port)
			um_control_reply_add(reply, "relay_wss", "%s:%u", relay.wss_host, relay.wss_port);
	}
	add_hex(reply, "value", v, op->value_len);
}

static int result(struct um_node *node, const char *arg, struct um_control_reply *reply)
{
	struct um_node_dht *d = dht_of(node);
	char *end;
	unsigned long long id = strtoull(arg, &end, 10);
	struct dht_op *op = *end ? NULL : op_find(d, id);

	if (!op)
		return -UM_ENOTFOUND;
	um_control_reply_add(reply, "kind", "%s", kind_name(op->kind));
	um_control_reply_add(reply, "state", "%s", op->done ? "done" : "running");
	add_hex(reply, "key", op->q.keys[0], 32);
	if (op->q.n > 1)
		add_hex(reply, "key", op->q.keys[1], 32);
	if (!op->done)
		return 0;
	um_control_reply_add(reply, "elapsed_ms", "%llu.%03llu",
			     (unsigned long long)(op->q.elapsed_ns / UM_NSEC_PER_MSEC),
			     (unsigned long long)(op->q.elapsed_ns / 1000 % 1000));
	um_control_reply_add(reply, "messages", "%u", op->q.messages);
	um_control_reply_add(reply, "values", "%u", op->values);
	switch (op->kind) {
	case DHT_OP_LOOKUP:
		um_control_reply_add(reply, "found", "%u", op->has_record);
		if (op->has_record)
			add_record(reply, &op->record);
		break;
	case DHT_OP_GET:
		um_control_reply_add(reply, "found", "%u", op->value != NULL);
		if (op->value)
			describe_value(node, op, reply);
		break;
	case DHT_OP_PUT:
		um_control_reply_add(reply, "storers", "%u", op->storers);
		break;
	case DHT_OP_FREE:
		break;
	}
	return 0;
}

int um_node_dht_control(struct um_node *node, const struct um_control_request *req, struct um_control_reply *reply)
{
	struct um_control_reply text = {0};
	int r;

	if (!dht_of(node))
		return -UM_ESTATE; /* dht = off */
	switch (req->dht) {
	case UM_CONTROL_DHT_STATUS:
		status_lines(node, reply);
		return 0;
	case UM_CONTROL_DHT_JSON:
		status_lines(node, &text);
		to_json(&text, reply, true);
		free(text.data);
		return text.overflow ? -UM_ENOMEM : 0;
	case UM_CONTROL_DHT_LOOKUP:
		return start_lookup(node, req->arg, reply);
	case UM_CONTROL_DHT_GET:
		return start_get(node, req->arg, reply);
	case UM_CONTROL_DHT_PUT:
		return start_put(node, req, reply);
	case UM_CONTROL_DHT_RESULT:
		r = result(node, req->arg, &text);
		if (r == 0 && !text.overflow) {
			/* Both forms: the lines, then the same as json= (for --json). */
			json_raw_len(reply, text.data, text.len);
			to_json(&text, reply, false);
		}
		free(text.data);
		return r;
	}
	return -UM_EINVAL;
}
