/* SPDX-License-Identifier: MIT */
/* The bootstrap API's handlers (bootstrap_api.h): JSON in (jansson), the
 * registry's verdict, JSON out. Cheap refusals first: the rate bucket, then
 * the body's shape, then the registry's own order (challenge, key, budget,
 * signature). */
#include "http/bootstrap_api.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>
#include <sodium.h>

#include "util/clock.h"
#include "util/error.h"
#include "util/log.h"

#define API_PREFIX    "/api/bootstrap/"
#define PEER_API_PATH API_PREFIX "peer/"
#define PEER_PUBLIC   "/peer/"

static bool member_allowed(const char *key, enum um_bootstrap_op op)
{
	static const char *const common[] = {"peer_id", "challenge", "signature"};
	static const char *const reg[] = {"public_key", "endpoints", "public"};

	for (size_t i = 0; i < sizeof(common) / sizeof(common[0]); i++)
		if (!strcmp(key, common[i]))
			return true;
	if (op == UM_BOOTSTRAP_OP_REGISTER)
		for (size_t i = 0; i < sizeof(reg) / sizeof(reg[0]); i++)
			if (!strcmp(key, reg[i]))
				return true;
	return false;
}

static int parse_endpoints(const json_t *list, struct um_bootstrap_request *q, const char **error)
{
	size_t i;
	const json_t *v;

	*error = "endpoints: a list of 1 to 8 \"IP:PORT\"";
	if (!json_is_array(list) || json_array_size(list) == 0 || json_array_size(list) > UM_BOOTSTRAP_ENDPOINTS_MAX)
		return -UM_EINVAL;
	json_array_foreach(list, i, v)
	{
		if (!json_is_string(v) || json_string_length(v) >= UM_ADDR_TEXT_MAX ||
		    um_addr_parse(&q->endpoints[i], json_string_value(v)))
			return -UM_EINVAL;
		for (size_t k = 0; k < i; k++)
			if (um_addr_equal(&q->endpoints[k], &q->endpoints[i])) {
				*error = "endpoints: listed twice";
				return -UM_EINVAL;
			}
	}
	q->n_endpoints = json_array_size(list);
	return 0;
}

int um_bootstrap_api_parse_write(enum um_bootstrap_op op, const uint8_t *body, size_t len,
				 struct um_bootstrap_request *q, struct um_bootstrap_api_buffers *bufs,
				 const char **error)
{
	json_error_t jerr;
	json_t *root = json_loadb((const char *)body, len, JSON_REJECT_DUPLICATES, &jerr);
	const char *key;
	json_t *v;
	int r = -UM_EINVAL;

	memset(q, 0, sizeof(*q));
	q->op = op;
	*error = "body: not a JSON object";
	if (!root || !json_is_object(root))
		goto out;
	json_object_foreach(root, key, v)
	{
		if (!member_allowed(key, op)) {
			*error = "unknown member";
			goto out;
		}
	}
	v = json_object_get(root, "peer_id");
	*error = "peer_id: not a peer ID";
	if (!json_is_string(v) || json_string_length(v) >= UM_PEER_ID_TEXT_MAX ||
	    um_peer_id_parse(&q->id, json_string_value(v)))
		goto out;
	*error = "challenge: not base64 of 32 bytes";
	if (um_http_json_base64_exact(json_object_get(root, "challenge"), q->challenge, sizeof(q->challenge)))
		goto out;
	*error = "signature: not a base64 hybrid signature";
	if (um_http_json_base64_exact(json_object_get(root, "signature"), bufs->signature, sizeof(bufs->signature)))
		goto out;
	q->signature = bufs->signature;
	if (op == UM_BOOTSTRAP_OP_REGISTER) {
		*error = "public_key: not a base64 hybrid public key";
		if (um_http_json_base64_exact(json_object_get(root, "public_key"), bufs->public_key,
					      sizeof(bufs->public_key)))
			goto out;
		q->public_key = bufs->public_key;
		if (parse_endpoints(json_object_get(root, "endpoints"), q, error))
			goto out;
		v = json_object_get(root, "public");
		*error = "public: not a boolean";
		if (v && !json_is_boolean(v))
			goto out;
		q->is_public = v && json_is_true(v);
	}
	*error = NULL;
	r = 0;
out:
	json_decref(root);
	return r;
}

/* ---- responses ---- */

/* A peer as JSON, written by hand: listings are the API's hot path and
 * jansson's objects cost five times more than the text. Every string comes
 * from our own formatters (peer ID: lower-case letters and digits;
 * addresses: hex digits, '.', ':', '[', ']'), so nothing needs escaping.
 * Appends to out (size bytes, PEER_JSON_MAX per peer suffices); returns the
 * new length. */
enum {
	PEER_JSON_MAX =
	    64 + UM_PEER_ID_TEXT_MAX + UM_BOOTSTRAP_ENDPOINTS_MAX * (UM_ADDR_TEXT_MAX + 3) + UM_ADDR_TEXT_MAX
};

static size_t peer_text(char *out, size_t size, size_t len, const struct um_bootstrap_peer *p)
{
	char id[UM_PEER_ID_TEXT_MAX], text[UM_ADDR_TEXT_MAX];
	int n;

	/* A private network's node is listed by address only: a seed for
	 * anyone's routing table (its ID is learnt from its proof on the
	 * first PING), without telling the world which IDs exist where. */
	if (p->is_public) {
		um_peer_id_format(&p->id, id, sizeof(id));
		n = snprintf(out + len, size - len, "{\"peer_id\":\"%s\",\"endpoints\":[", id);
	} else {
		n = snprintf(out + len, size - len, "{\"endpoints\":[");
	}
	len += n > 0 ? (size_t)n : 0;
	for (size_t i = 0; i < p->n_endpoints && len < size; i++) {
		if (um_addr_format(&p->endpoints[i], text, sizeof(text)))
			continue;
		n = snprintf(out + len, size - len, "%s\"%s\"", i ? "," : "", text);
		len += n > 0 ? (size_t)n : 0;
	}
	if (len < size && um_addr_format_host(&p->observed, text, sizeof(text)))
		text[0] = 0;
	n = len < size ? snprintf(out + len, size - len, "],\"observed\":\"%s\"}", text) : 0;
	len += n > 0 ? (size_t)n : 0;
	return len < size ? len : size;
}

/* Takes text (malloc'ed, len bytes) as the 200 response body. */
static void respond_text(struct um_http_response *resp, char *text, size_t len)
{
	resp->status = 200;
	resp->body = text;
	resp->body_len = len;
}

/* The registry's codes as HTTP statuses with a word for the client. */
static void respond_code(struct um_http_response *resp, int code)
{
	switch (code) {
	case -UM_EINVAL:
		um_http_response_error(resp, 400, "malformed request");
		break;
	case -UM_EREPLAY:
		um_http_response_error(resp, 403, "challenge unknown, expired, used or issued to another address");
		break;
	case -UM_EBADMSG:
		um_http_response_error(resp, 403, "peer ID, key and signature do not match");
		break;
	case -UM_ENOTFOUND:
		um_http_response_error(resp, 404, "not found");
		break;
	case -UM_ELIMIT:
		um_http_response_error(resp, 429, "too many requests");
		break;
	case -UM_ENOMEM:
		um_http_response_error(resp, 503, "registry full");
		break;
	default:
		um_http_response_error(resp, 500, "internal error");
		break;
	}
}

/* Charges the request to its source; false (and 429 written) when over. */
static bool admitted(struct um_bootstrap *registry, const struct um_http_request *req, struct um_http_response *resp,
		     uint64_t now)
{
	if (!req->source.family) {
		um_http_response_error(resp, 400, "no source address");
		return false;
	}
	if (um_bootstrap_admit(registry, &req->source, now)) {
		respond_code(resp, -UM_ELIMIT);
		return false;
	}
	return true;
}

static void on_challenge(void *ctx, const struct um_http_request *req, struct um_http_response *resp)
{
	struct um_bootstrap *registry = ctx;
	uint8_t challenge[UM_BOOTSTRAP_CHALLENGE_BYTES];
	char b64[sodium_base64_ENCODED_LEN(UM_BOOTSTRAP_CHALLENGE_BYTES, sodium_base64_VARIANT_ORIGINAL)];
	uint64_t now = um_now_ns(), ttl;
	int r;

	if (!admitted(registry, req, resp, now))
		return;
	r = um_bootstrap_challenge(registry, &req->source, now, challenge, &ttl);
	if (r) {
		respond_code(resp, r);
		return;
	}
	sodium_bin2base64(b64, sizeof(b64), challenge, sizeof(challenge), sodium_base64_VARIANT_ORIGINAL);
	um_http_response_json(
	    resp, 200, json_pack("{s:s,s:I}", "challenge", b64, "expires_in", (json_int_t)(ttl / UM_NSEC_PER_SEC)));
}

static void on_write(struct um_bootstrap *registry, enum um_bootstrap_op op, const struct um_http_request *req,
		     struct um_http_response *resp)
{
	struct um_bootstrap_request q;
	struct um_bootstrap_api_buffers *bufs = NULL;
	const char *error;
	uint64_t now = um_now_ns(), ttl;
	int r;

	if (!admitted(registry, req, resp, now))
		return;
	bufs = malloc(sizeof(*bufs)); /* 7 KB: off the HTTP thread's stack */
	if (!bufs) {
		um_http_response_error(resp, 503, "out of memory");
		return;
	}
	if (um_bootstrap_api_parse_write(op, req->body, req->body_len, &q, bufs, &error)) {
		um_http_response_error(resp, 400, error);
		goto out;
	}
	r = um_bootstrap_write(registry, &req->source, &q, now, &ttl);
	if (r) {
		respond_code(resp, r);
		goto out;
	}
	if (op == UM_BOOTSTRAP_OP_REGISTER)
		um_http_response_json(
		    resp, 200, json_pack("{s:b,s:I}", "registered", 1, "ttl", (json_int_t)(ttl / UM_NSEC_PER_SEC)));
	else if (op == UM_BOOTSTRAP_OP_HEARTBEAT)
		um_http_response_json(resp, 200, json_pack("{s:I}", "ttl", (json_int_t)(ttl / UM_NSEC_PER_SEC)));
	else
		um_http_response_json(resp, 200, json_pack("{s:b}", "unregistered", 1));
out:
	free(bufs);
}

static void on_register(void *ctx, const struct um_http_request *req, struct um_http_response *resp)
{
	on_write(ctx, UM_BOOTSTRAP_OP_REGISTER, req, resp);
}

static void on_heartbeat(void *ctx, const struct um_http_request *req, struct um_http_response *resp)
{
	on_write(ctx, UM_BOOTSTRAP_OP_HEARTBEAT, req, resp);
}

static void on_unregister(void *ctx, const struct um_http_request *req, struct um_http_response *resp)
{
	on_write(ctx, UM_BOOTSTRAP_OP_UNREGISTER, req, resp);
}

static void on_peers(void *ctx, const struct um_http_request *req, struct um_http_response *resp)
{
	struct um_bootstrap *registry = ctx;
	struct um_bootstrap_peer peers[UM_BOOTSTRAP_LIST_MAX];
	size_t size = 16 + UM_BOOTSTRAP_LIST_MAX * (PEER_JSON_MAX + 1), len = 0;
	uint64_t now = um_now_ns();
	char *text;

	if (!admitted(registry, req, resp, now))
		return;
	size_t n = um_bootstrap_list(registry, now, peers, UM_BOOTSTRAP_LIST_MAX);
	text = malloc(size);
	if (!text) {
		um_http_response_error(resp, 503, "out of memory");
		return;
	}
	len = (size_t)snprintf(text, size, "{\"peers\":[");
	for (size_t i = 0; i < n && len + 1 < size; i++) {
		if (i)
			text[len++] = ',';
		len = peer_text(text, size, len, &peers[i]);
	}
	/* size holds the longest listing; a cut one would be broken JSON. */
	if (len + 3 > size) {
		free(text);
		um_http_response_error(resp, 500, "internal error");
		return;
	}
	memcpy(text + len, "]}", 3);
	respond_text(resp, text, len + 2);
}

static void peer_lookup(struct um_bootstrap *registry, const char *id_text, bool public_only,
			const struct um_http_request *req, struct um_http_response *resp)
{
	struct um_bootstrap_peer peer;
	struct um_peer_id id;
	uint64_t now = um_now_ns();

	if (!admitted(registry, req, resp, now))
		return;
	if (strlen(id_text) >= UM_PEER_ID_TEXT_MAX || um_peer_id_parse(&id, id_text)) {
		um_http_response_error(resp, 400, "not a peer ID");
		return;
	}
	if (um_bootstrap_find(registry, &id, public_only, now, &peer)) {
		/* The same answer for unknown and private: nothing to learn. */
		respond_code(resp, -UM_ENOTFOUND);
		return;
	}
	char *text = malloc(PEER_JSON_MAX);
	if (!text) {
		um_http_response_error(resp, 503, "out of memory");
		return;
	}
	respond_text(resp, text, peer_text(text, PEER_JSON_MAX, 0, &peer));
}

static void on_peer(void *ctx, const struct um_http_request *req, struct um_http_response *resp)
{
	/* Private registrations are not found by ID here either: a private
	 * network's nodes are found through the DHT, under blinded keys. */
	peer_lookup(ctx, req->path + strlen(PEER_API_PATH), true, req, resp);
}

static void on_public_peer(void *ctx, const struct um_http_request *req, struct um_http_response *resp)
{
	peer_lookup(ctx, req->path + strlen(PEER_PUBLIC), true, req, resp);
}

int um_bootstrap_api_attach(struct um_http_server *server, struct um_bootstrap *registry)
{
	int r = 0;

	r = r ? r : um_http_server_route(server, "POST", API_PREFIX "challenge", false, on_challenge, registry);
	r = r ? r : um_http_server_route(server, "POST", API_PREFIX "register", false, on_register, registry);
	r = r ? r : um_http_server_route(server, "POST", API_PREFIX "heartbeat", false, on_heartbeat, registry);
	r = r ? r : um_http_server_route(server, "DELETE", API_PREFIX "unregister", false, on_unregister, registry);
	r = r ? r : um_http_server_route(server, "GET", API_PREFIX "peers", false, on_peers, registry);
	r = r ? r : um_http_server_route(server, "GET", PEER_API_PATH, true, on_peer, registry);
	r = r ? r : um_http_server_route(server, "GET", PEER_PUBLIC, true, on_public_peer, registry);
	return r;
}

int um_bootstrap_service_start(struct um_bootstrap_service **out, const struct um_http_server_config *http,
			       const struct um_bootstrap_config *registry_config)
{
	return um_bootstrap_service_start_extra(out, http, registry_config, NULL, NULL);
}

int um_bootstrap_service_start_extra(struct um_bootstrap_service **out, const struct um_http_server_config *http,
				     const struct um_bootstrap_config *registry_config,
				     int (*extra)(void *extra_ctx, struct um_http_server *server), void *extra_ctx)
{
	struct um_bootstrap_service *s = calloc(1, sizeof(*s));
	int r;

	*out = NULL;
	if (!s)
		return -UM_ENOMEM;
	r = um_bootstrap_create(&s->registry, registry_config);
	if (r)
		goto out;
	r = um_http_server_create(&s->server, http);
	if (r)
		goto out;
	r = um_bootstrap_api_attach(s->server, s->registry);
	if (!r && extra)
		r = extra(extra_ctx, s->server);
	if (r)
		goto out;
	r = um_http_server_start(s->server);
	if (r)
		goto out;
	*out = s;
	return 0;
out:
	um_bootstrap_service_stop(s);
	return r;
}

void um_bootstrap_service_stop(struct um_bootstrap_service *s)
{
	if (!s)
		return;
	um_http_server_free(s->server); /* the thread first: it uses the registry */
	um_bootstrap_free(s->registry);
	free(s);
}
