/* SPDX-License-Identifier: MIT */
/* The bootstrap API client (bootstrap_client.h) on the shared HTTP client
 * (client.h), jansson for the answers. */
#include "http/bootstrap_client.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>
#include <sodium.h>

#include "http/client.h"
#include "util/error.h"

int um_bootstrap_client_init(struct um_bootstrap_client *c, const char *url)
{
	return um_http_client_init(&c->http, url, UM_BOOTSTRAP_TIMEOUT_MS, UM_BOOTSTRAP_RESPONSE_MAX);
}

void um_bootstrap_client_close(struct um_bootstrap_client *c)
{
	um_http_client_close(&c->http);
}

/* One request with an optional JSON body (NUL terminated, borrowed); the
 * answer into *b (b->data the caller's). */
static int request(struct um_bootstrap_client *c, const char *method, const char *path, const char *body,
		   struct um_http_client_response *b)
{
	return um_http_client_request(&c->http, method, path, body, body ? strlen(body) : 0, b);
}

/* ---- parsers ---- */

int um_bootstrap_client_parse_challenge(const char *body, size_t len, uint8_t out[UM_BOOTSTRAP_CHALLENGE_BYTES])
{
	json_t *root = um_http_client_load_object(body, len);
	const json_t *v = root ? json_object_get(root, "challenge") : NULL;
	int r = um_http_client_json_bytes(v, out, UM_BOOTSTRAP_CHALLENGE_BYTES);

	json_decref(root);
	return r;
}

int um_bootstrap_client_parse_ttl(const char *body, size_t len, uint64_t *ttl_s)
{
	json_t *root = um_http_client_load_object(body, len);
	const json_t *v = root ? json_object_get(root, "ttl") : NULL;
	int r = -UM_ETRUNC;

	if (json_is_integer(v) && json_integer_value(v) >= 0) {
		*ttl_s = (uint64_t)json_integer_value(v);
		r = 0;
	}
	json_decref(root);
	return r;
}

static int peer_from_json(const json_t *o, struct um_bootstrap_peer *out)
{
	const json_t *id = json_object_get(o, "peer_id"), *list = json_object_get(o, "endpoints");
	const json_t *observed = json_object_get(o, "observed"), *v;
	size_t i;

	memset(out, 0, sizeof(*out));
	/* No peer_id: a private node, listed by address only. */
	if (id && (!json_is_string(id) || json_string_length(id) >= UM_PEER_ID_TEXT_MAX ||
		   um_peer_id_parse(&out->id, json_string_value(id))))
		return -UM_ETRUNC;
	out->has_id = id != NULL;
	if (!json_is_array(list) || json_array_size(list) > UM_BOOTSTRAP_ENDPOINTS_MAX)
		return -UM_ETRUNC;
	json_array_foreach(list, i, v)
	{
		if (!json_is_string(v) || json_string_length(v) >= UM_ADDR_TEXT_MAX ||
		    um_addr_parse(&out->endpoints[i], json_string_value(v)))
			return -UM_ETRUNC;
	}
	out->n_endpoints = json_array_size(list);
	/* The observed address is advisory: kept when it parses. */
	if (json_is_string(observed) && json_string_length(observed) < UM_ADDR_TEXT_MAX)
		um_addr_parse_host(&out->observed, json_string_value(observed));
	return 0;
}

int um_bootstrap_client_parse_peer(const char *body, size_t len, struct um_bootstrap_peer *out)
{
	json_t *root = um_http_client_load_object(body, len);
	int r = root ? peer_from_json(root, out) : -UM_ETRUNC;

	json_decref(root);
	return r;
}

int um_bootstrap_client_parse_peers(const char *body, size_t len, struct um_bootstrap_peer *out, size_t max,
				    size_t *count)
{
	json_t *root = um_http_client_load_object(body, len);
	const json_t *list = root ? json_object_get(root, "peers") : NULL, *v;
	size_t i;
	int r = -UM_ETRUNC;

	*count = 0;
	if (!json_is_array(list))
		goto out;
	json_array_foreach(list, i, v)
	{
		if (*count >= max)
			break;
		/* One malformed entry does not spoil the others. */
		if (json_is_object(v) && peer_from_json(v, &out[*count]) == 0)
			(*count)++;
	}
	r = 0;
out:
	json_decref(root);
	return r;
}

/* ---- calls ---- */

static int fetch_challenge(struct um_bootstrap_client *c, uint8_t out[UM_BOOTSTRAP_CHALLENGE_BYTES])
{
	struct um_http_client_response b;
	int r = request(c, "POST", "/api/bootstrap/challenge", "{}", &b);

	if (r == 0)
		r = um_bootstrap_client_parse_challenge(b.data, b.len, out);
	free(b.data);
	return r;
}

static char *base64_of(const uint8_t *bin, size_t len)
{
	size_t size = sodium_base64_encoded_len(len, sodium_base64_VARIANT_ORIGINAL);
	char *text = malloc(size);

	if (text)
		sodium_bin2base64(text, size, bin, len, sodium_base64_VARIANT_ORIGINAL);
	return text;
}

/* Challenge, sign, send; the answer's TTL into *ttl_s (may be NULL). */
static int signed_write(struct um_bootstrap_client *c, const struct um_identity *identity,
			struct um_bootstrap_request *q, uint64_t *ttl_s)
{
	uint8_t *signature = malloc(UM_HSIG_BYTES);
	char id[UM_PEER_ID_TEXT_MAX], text[UM_ADDR_TEXT_MAX];
	char *sig_b64 = NULL, *challenge_b64 = NULL, *key_b64 = NULL, *body = NULL;
	json_t *o = NULL, *list;
	struct um_http_client_response b = {0};
	int r;

	if (!signature)
		return -UM_ENOMEM;
	q->id = identity->id;
	r = fetch_challenge(c, q->challenge);
	if (r)
		goto out;
	r = um_bootstrap_sign(q, identity, signature);
	if (r)
		goto out;
	r = -UM_ENOMEM;
	sig_b64 = base64_of(signature, UM_HSIG_BYTES);
	challenge_b64 = base64_of(q->challenge, sizeof(q->challenge));
	um_peer_id_format(&q->id, id, sizeof(id));
	if (!sig_b64 || !challenge_b64)
		goto out;
	o = json_pack("{s:s,s:s,s:s}", "peer_id", id, "challenge", challenge_b64, "signature", sig_b64);
	if (!o)
		goto out;
	if (q->op == UM_BOOTSTRAP_OP_REGISTER) {
		key_b64 = base64_of(identity->public_key, UM_HSIG_PK_BYTES);
		list = json_array();
		if (!key_b64 || !list || json_object_set_new(o, "endpoints", list) ||
		    json_object_set_new(o, "public_key", json_string(key_b64)) ||
		    json_object_set_new(o, "public", json_boolean(q->is_public)))
			goto out;
		for (size_t i = 0; i < q->n_endpoints; i++) {
			if (um_addr_format(&q->endpoints[i], text, sizeof(text)) ||
			    json_array_append_new(list, json_string(text)))
				goto out;
		}
	}
	body = json_dumps(o, JSON_COMPACT);
	if (!body)
		goto out;
	r = request(c, um_bootstrap_op_method(q->op), um_bootstrap_op_path(q->op), body, &b);
	if (r == 0 && ttl_s && q->op != UM_BOOTSTRAP_OP_UNREGISTER)
		r = um_bootstrap_client_parse_ttl(b.data, b.len, ttl_s);
out:
	free(b.data);
	free(body);
	json_decref(o);
	free(key_b64);
	free(challenge_b64);
	free(sig_b64);
	free(signature);
	return r;
}

int um_bootstrap_client_register(struct um_bootstrap_client *c, const struct um_identity *identity,
				 const struct um_addr *endpoints, size_t n_endpoints, bool is_public, uint64_t *ttl_s)
{
	struct um_bootstrap_request q = {.op = UM_BOOTSTRAP_OP_REGISTER, .is_public = is_public};

	if (n_endpoints == 0 || n_endpoints > UM_BOOTSTRAP_ENDPOINTS_MAX)
		return -UM_EINVAL;
	memcpy(q.endpoints, endpoints, n_endpoints * sizeof(*endpoints));
	q.n_endpoints = n_endpoints;
	q.public_key = identity->public_key;
	return signed_write(c, identity, &q, ttl_s);
}

int um_bootstrap_client_heartbeat(struct um_bootstrap_client *c, const struct um_identity *identity, uint64_t *ttl_s)
{
	struct um_bootstrap_request q = {.op = UM_BOOTSTRAP_OP_HEARTBEAT};

	return signed_write(c, identity, &q, ttl_s);
}

int um_bootstrap_client_unregister(struct um_bootstrap_client *c, const struct um_identity *identity)
{
	struct um_bootstrap_request q = {.op = UM_BOOTSTRAP_OP_UNREGISTER};

	return signed_write(c, identity, &q, NULL);
}

int um_bootstrap_client_peers(struct um_bootstrap_client *c, struct um_bootstrap_peer *out, size_t max, size_t *count)
{
	struct um_http_client_response b;
	int r = request(c, "GET", "/api/bootstrap/peers", NULL, &b);

	*count = 0;
	if (r == 0)
		r = um_bootstrap_client_parse_peers(b.data, b.len, out, max, count);
	free(b.data);
	return r;
}

int um_bootstrap_client_peer(struct um_bootstrap_client *c, const struct um_peer_id *id, bool public_path,
			     struct um_bootstrap_peer *out)
{
	char text[UM_PEER_ID_TEXT_MAX], path[UM_PEER_ID_TEXT_MAX + 32];
	struct um_http_client_response b;
	int r;

	um_peer_id_format(id, text, sizeof(text));
	snprintf(path, sizeof(path), "%s%s", public_path ? "/peer/" : "/api/bootstrap/peer/", text);
	r = request(c, "GET", path, NULL, &b);
	if (r == 0)
		r = um_bootstrap_client_parse_peer(b.data, b.len, out);
	free(b.data);
	return r;
}
