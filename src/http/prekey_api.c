/* SPDX-License-Identifier: MIT */
/* Prekey publication on a mailbox relay (prekey_api.h). */
#include "http/prekey_api.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>
#include <sodium.h>

#include "msg/prekey.h"
#include "util/clock.h"
#include "util/error.h"
#include "util/log.h"

struct um_prekey_api {
	struct um_prekey_backend backend;
	uint64_t (*wall_ms)(void);
	uint64_t stored, refused;
};

static uint64_t default_wall_ms(void)
{
	return um_wall_ms();
}

int um_prekey_api_create(struct um_prekey_api **out, const struct um_prekey_backend *backend, uint64_t (*wall_ms)(void))
{
	struct um_prekey_api *api = calloc(1, sizeof(*api));

	*out = NULL;
	if (!api)
		return -UM_ENOMEM;
	api->backend = *backend;
	api->wall_ms = wall_ms ? wall_ms : default_wall_ms;
	*out = api;
	return 0;
}

void um_prekey_api_free(struct um_prekey_api *api)
{
	free(api);
}

int um_prekey_api_parse(const char *body, size_t len, uint8_t bundle[UM_PREKEY_BUNDLE_BYTES],
			uint8_t public_key[UM_HSIG_PK_BYTES], const char **error)
{
	json_t *root = body ? json_loadb(body, len, JSON_REJECT_DUPLICATES, NULL) : NULL;
	const char *key;
	json_t *v;
	int r = -UM_EINVAL;

	*error = "not a JSON object";
	if (!root || !json_is_object(root))
		goto out;
	json_object_foreach(root, key, v)
	{
		if (strcmp(key, "bundle") && strcmp(key, "public_key")) {
			*error = "unknown member";
			goto out;
		}
	}
	*error = "bundle: not a base64 prekey bundle";
	if (um_http_json_base64_exact(json_object_get(root, "bundle"), bundle, UM_PREKEY_BUNDLE_BYTES))
		goto out;
	*error = "public_key: not a base64 hybrid public key";
	if (um_http_json_base64_exact(json_object_get(root, "public_key"), public_key, UM_HSIG_PK_BYTES))
		goto out;
	*error = NULL;
	r = 0;
out:
	json_decref(root);
	return r;
}

char *um_prekey_api_format(const uint8_t bundle[UM_PREKEY_BUNDLE_BYTES], const uint8_t public_key[UM_HSIG_PK_BYTES])
{
	size_t bl = sodium_base64_encoded_len(UM_PREKEY_BUNDLE_BYTES, sodium_base64_VARIANT_ORIGINAL);
	size_t kl = sodium_base64_encoded_len(UM_HSIG_PK_BYTES, sodium_base64_VARIANT_ORIGINAL);
	size_t cap = bl + kl + 64;
	char *text = malloc(cap);
	size_t n;

	if (!text)
		return NULL;
	n = (size_t)snprintf(text, cap, "{\"bundle\":\"");
	sodium_bin2base64(text + n, cap - n, bundle, UM_PREKEY_BUNDLE_BYTES, sodium_base64_VARIANT_ORIGINAL);
	n += bl - 1;
	n += (size_t)snprintf(text + n, cap - n, "\",\"public_key\":\"");
	sodium_bin2base64(text + n, cap - n, public_key, UM_HSIG_PK_BYTES, sodium_base64_VARIANT_ORIGINAL);
	n += kl - 1;
	snprintf(text + n, cap - n, "\"}");
	return text;
}

static void respond_text(struct um_http_response *resp, unsigned status, char *text)
{
	if (!text) {
		um_http_response_error(resp, 503, "out of memory");
		return;
	}
	resp->status = status;
	resp->body = text;
	resp->body_len = strlen(text);
}

static void handle_put(void *ctx, const struct um_http_request *req, struct um_http_response *resp)
{
	struct um_prekey_api *api = ctx;
	uint8_t bundle[UM_PREKEY_BUNDLE_BYTES], pk[UM_HSIG_PK_BYTES];
	struct um_prekey_public pub;
	const char *error = NULL;
	uint64_t now = api->wall_ms();
	int r;

	if (um_prekey_api_parse((const char *)req->body, req->body_len, bundle, pk, &error)) {
		api->refused++;
		um_http_response_error(resp, 400, error);
		return;
	}
	r = um_prekey_bundle_verify(bundle, sizeof(bundle), pk, now, &pub);
	if (r) {
		api->refused++;
		um_http_response_error(resp, 403,
				       r == -UM_EREPLAY  ? "bundle expired"
				       : r == -UM_ERANGE ? "bundle created in the future"
							 : "bundle not signed by its owner");
		return;
	}
	r = api->backend.put(api->backend.p, pub.owner, pub.created_ms, pub.expires_ms, bundle, sizeof(bundle), pk,
			     sizeof(pk), now);
	if (r == -UM_EEXIST)
		r = 0; /* the same bundle again: idempotent */
	if (r) {
		api->refused++;
		um_http_response_error(resp,
				       r == -UM_EREPLAY  ? 409
				       : r == -UM_ELIMIT ? 507
							 : 500,
				       r == -UM_EREPLAY  ? "a newer bundle is published"
				       : r == -UM_ELIMIT ? "prekey store full"
							 : "storage failure");
		return;
	}
	api->stored++;
	respond_text(resp, 200, strdup("{\"stored\":true}"));
}

static void handle_get(void *ctx, const struct um_http_request *req, struct um_http_response *resp)
{
	struct um_prekey_api *api = ctx;
	const char *hex = req->path + strlen(UM_PREKEY_API_PATH "/");
	uint8_t owner[32], bundle[UM_PREKEY_BUNDLE_BYTES], pk[UM_HSIG_PK_BYTES];
	size_t bl = 0, kl = 0, bin_len = 0;
	const char *end = NULL;
	int r;

	if (strlen(hex) != 64 || sodium_hex2bin(owner, sizeof(owner), hex, 64, NULL, &bin_len, &end) || bin_len != 32 ||
	    *end) {
		um_http_response_error(resp, 400, "peer ID: 64 hex digits");
		return;
	}
	r = api->backend.get(api->backend.p, owner, api->wall_ms(), bundle, sizeof(bundle), &bl, pk, sizeof(pk), &kl);
	if (r == 0 && (bl != sizeof(bundle) || kl != sizeof(pk)))
		r = -UM_EINVAL;
	if (r) {
		um_http_response_error(resp, r == -UM_ENOTFOUND ? 404 : 500,
				       r == -UM_ENOTFOUND ? "no prekey published" : "storage failure");
		return;
	}
	respond_text(resp, 200, um_prekey_api_format(bundle, pk));
}

int um_prekey_api_attach(struct um_http_server *server, struct um_prekey_api *api)
{
	int r = um_http_server_route(server, "PUT", UM_PREKEY_API_PATH, false, handle_put, api);

	return r ? r : um_http_server_route(server, "GET", UM_PREKEY_API_PATH "/", true, handle_get, api);
}
