/* SPDX-License-Identifier: MIT */
/* The bootstrap API client (bootstrap_client.h): one reused curl handle,
 * a bounded response buffer, jansson for the answers. */
#include "http/bootstrap_client.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <curl/curl.h>
#include <jansson.h>
#include <sodium.h>

#include "http/client.h"
#include "util/error.h"

struct response_buf {
	char *data;
	size_t len;
	bool overflow;
};

static size_t on_data(char *ptr, size_t size, size_t nmemb, void *userdata)
{
	struct response_buf *b = userdata;
	size_t n = size * nmemb;

	if (b->overflow || n > UM_BOOTSTRAP_RESPONSE_MAX - b->len) {
		b->overflow = true;
		return 0; /* aborts the transfer */
	}
	char *grown = realloc(b->data, b->len + n + 1);
	if (!grown) {
		b->overflow = true;
		return 0;
	}
	memcpy(grown + b->len, ptr, n);
	b->data = grown;
	b->len += n;
	b->data[b->len] = 0;
	return n;
}

int um_bootstrap_client_init(struct um_bootstrap_client *c, const char *url)
{
	memset(c, 0, sizeof(*c));
	c->timeout_ms = UM_BOOTSTRAP_TIMEOUT_MS;
	if (um_http_client_base(c->base, sizeof(c->base), url))
		return -UM_EINVAL;
	c->curl = curl_easy_init();
	return c->curl ? 0 : -UM_ENOMEM;
}

void um_bootstrap_client_close(struct um_bootstrap_client *c)
{
	if (c->curl)
		curl_easy_cleanup(c->curl);
	c->curl = NULL;
}

/* One request: method on base + path with an optional JSON body; the
 * answer's body into *b (owned by the caller, freed with free(b->data)). */
static int request(struct um_bootstrap_client *c, const char *method, const char *path, const char *body,
		   struct response_buf *b)
{
	char url[UM_BOOTSTRAP_URL_MAX + 128];
	struct curl_slist *headers = NULL;
	CURL *curl = c->curl;
	long status = 0;
	CURLcode rc;

	memset(b, 0, sizeof(*b));
	c->last_status = 0;
	if (!curl)
		return -UM_ESTATE;
	if ((size_t)snprintf(url, sizeof(url), "%s%s", c->base, path) >= sizeof(url))
		return -UM_EINVAL;
	curl_easy_reset(curl);
	curl_easy_setopt(curl, CURLOPT_URL, url);
	curl_easy_setopt(curl, CURLOPT_PROTOCOLS_STR, "http,https");
	curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(curl, CURLOPT_TIMEOUT_MS, c->timeout_ms);
	curl_easy_setopt(curl, CURLOPT_CONNECTTIMEOUT_MS, c->timeout_ms);
	curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, on_data);
	curl_easy_setopt(curl, CURLOPT_WRITEDATA, b);
	curl_easy_setopt(curl, CURLOPT_CUSTOMREQUEST, method);
	if (c->ca_file)
		curl_easy_setopt(curl, CURLOPT_CAINFO, c->ca_file);
	if (c->insecure) {
		curl_easy_setopt(curl, CURLOPT_SSL_VERIFYPEER, 0L);
		curl_easy_setopt(curl, CURLOPT_SSL_VERIFYHOST, 0L);
	}
	if (body) {
		headers = curl_slist_append(headers, "Content-Type: application/json");
		curl_easy_setopt(curl, CURLOPT_HTTPHEADER, headers);
		curl_easy_setopt(curl, CURLOPT_POSTFIELDS, body);
		curl_easy_setopt(curl, CURLOPT_POSTFIELDSIZE, (long)strlen(body));
	}
	rc = curl_easy_perform(curl);
	curl_slist_free_all(headers);
	if (rc != CURLE_OK) {
		free(b->data);
		memset(b, 0, sizeof(*b));
		return -UM_EAGAIN;
	}
	curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &status);
	c->last_status = (unsigned)status;
	if (status != 200) {
		free(b->data);
		memset(b, 0, sizeof(*b));
	}
	return um_http_client_status(status);
}

/* ---- parsers ---- */

static json_t *load_object(const char *body, size_t len)
{
	json_t *root = json_loadb(body, len, JSON_REJECT_DUPLICATES, NULL);

	if (root && !json_is_object(root)) {
		json_decref(root);
		return NULL;
	}
	return root;
}

int um_bootstrap_client_parse_challenge(const char *body, size_t len, uint8_t out[UM_BOOTSTRAP_CHALLENGE_BYTES])
{
	json_t *root = load_object(body, len);
	const json_t *v = root ? json_object_get(root, "challenge") : NULL;
	size_t bin_len = 0;
	int r = -UM_ETRUNC;

	if (json_is_string(v) &&
	    sodium_base642bin(out, UM_BOOTSTRAP_CHALLENGE_BYTES, json_string_value(v), json_string_length(v), NULL,
			      &bin_len, NULL, sodium_base64_VARIANT_ORIGINAL) == 0 &&
	    bin_len == UM_BOOTSTRAP_CHALLENGE_BYTES)
		r = 0;
	json_decref(root);
	return r;
}

int um_bootstrap_client_parse_ttl(const char *body, size_t len, uint64_t *ttl_s)
{
	json_t *root = load_object(body, len);
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
	json_t *root = load_object(body, len);
	int r = root ? peer_from_json(root, out) : -UM_ETRUNC;

	json_decref(root);
	return r;
}

int um_bootstrap_client_parse_peers(const char *body, size_t len, struct um_bootstrap_peer *out, size_t max,
				    size_t *count)
{
	json_t *root = load_object(body, len);
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
	struct response_buf b;
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
	struct response_buf b = {0};
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
	struct response_buf b;
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
	struct response_buf b;
	int r;

	um_peer_id_format(id, text, sizeof(text));
	snprintf(path, sizeof(path), "%s%s", public_path ? "/peer/" : "/api/bootstrap/peer/", text);
	r = request(c, "GET", path, NULL, &b);
	if (r == 0)
		r = um_bootstrap_client_parse_peer(b.data, b.len, out);
	free(b.data);
	return r;
}
