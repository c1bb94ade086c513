/* SPDX-License-Identifier: MIT */
/* Shared by the relay APIs' clients (client.h): one libcurl request with
 * its options, the answer buffer, the status and JSON helpers. */
#include "http/client.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <curl/curl.h>
#include <sodium.h>

#include "util/error.h"

int um_http_client_base(char *out, size_t cap, const char *url)
{
	size_t len = strlen(url);
	int n;

	while (len && url[len - 1] == '/')
		len--;
	if (!len || len > 200)
		return -UM_EINVAL;
	if (!strncmp(url, "http://", 7) || !strncmp(url, "https://", 8))
		n = snprintf(out, cap, "%.*s", (int)len, url);
	else if (strstr(url, "://"))
		return -UM_EINVAL;
	else
		n = snprintf(out, cap, "http://%.*s", (int)len, url);
	return n < 0 || (size_t)n >= cap ? -UM_EINVAL : 0;
}

int um_http_client_status(long status)
{
	switch (status) {
	case 200:
		return 0;
	case 400:
		return -UM_EINVAL;
	case 403:
		return -UM_EBADMSG;
	case 404:
		return -UM_ENOTFOUND;
	case 409:
	case 429:
		return -UM_ELIMIT;
	case 413:
		return -UM_ERANGE;
	case 503:
		return -UM_ENOMEM;
	case 507:
		return -ENOSPC;
	default:
		return -UM_EAGAIN;
	}
}

static size_t on_data(char *ptr, size_t size, size_t nmemb, void *userdata)
{
	struct um_http_client_response *b = userdata;
	size_t n = size * nmemb;

	if (b->overflow || n > b->max - b->len) {
		b->overflow = true;
		return 0; /* aborts the transfer */
	}
	if (b->len + n + 1 > b->cap) {
		size_t cap = (b->len + n + 1) * 2;
		char *grown = realloc(b->data, cap);
		if (!grown) {
			b->overflow = true;
			return 0;
		}
		b->data = grown;
		b->cap = cap;
	}
	memcpy(b->data + b->len, ptr, n);
	b->len += n;
	b->data[b->len] = 0;
	return n;
}

static int on_progress(void *clientp, curl_off_t dltotal, curl_off_t dlnow, curl_off_t ultotal, curl_off_t ulnow)
{
	const struct um_http_client *c = clientp;

	(void)dltotal;
	(void)dlnow;
	(void)ultotal;
	(void)ulnow;
	return c->abort_check(c->abort_ctx) ? 1 : 0;
}

int um_http_client_init(struct um_http_client *c, const char *url, long timeout_ms, size_t response_max)
{
	memset(c, 0, sizeof(*c));
	c->timeout_ms = timeout_ms;
	c->response_max = response_max;
	if (um_http_client_base(c->base, sizeof(c->base), url))
		return -UM_EINVAL;
	c->curl = curl_easy_init();
	return c->curl ? 0 : -UM_ENOMEM;
}

void um_http_client_close(struct um_http_client *c)
{
	if (c->curl)
		curl_easy_cleanup(c->curl);
	c->curl = NULL;
}

int um_http_client_request(struct um_http_client *c, const char *method, const char *path, const char *body, size_t len,
			   struct um_http_client_response *b)
{
	char url[UM_HTTP_CLIENT_URL_MAX + 128];
	struct curl_slist *headers = NULL;
	CURL *curl = c->curl;
	long status = 0;
	CURLcode rc;

	memset(b, 0, sizeof(*b));
	b->max = c->response_max;
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
	if (c->abort_check) {
		curl_easy_setopt(curl, CURLOPT_NOPROGRESS, 0L);
		curl_easy_setopt(curl, CURLOPT_XFERINFOFUNCTION, on_progress);
		curl_easy_setopt(curl, CURLOPT_XFERINFODATA, c);
	}
	if (c->insecure) {
		curl_easy_setopt(curl, CURLOPT_SSL_VERIFYPEER, 0L);
		curl_easy_setopt(curl, CURLOPT_SSL_VERIFYHOST, 0L);
	}
	if (body) {
		/* No "Expect: 100-continue" round trip on large bodies. */
		headers = curl_slist_append(headers, "Content-Type: application/json");
		headers = curl_slist_append(headers, "Expect:");
		curl_easy_setopt(curl, CURLOPT_HTTPHEADER, headers);
		curl_easy_setopt(curl, CURLOPT_POSTFIELDS, body);
		curl_easy_setopt(curl, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)len);
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
	return um_http_client_status(status);
}

json_t *um_http_client_load_object(const char *body, size_t len)
{
	json_t *root = body ? json_loadb(body, len, JSON_REJECT_DUPLICATES, NULL) : NULL;

	if (root && !json_is_object(root)) {
		json_decref(root);
		return NULL;
	}
	return root;
}

int um_http_client_json_bytes(const json_t *v, uint8_t *out, size_t len)
{
	size_t bin_len = 0;

	if (!json_is_string(v) ||
	    sodium_base642bin(out, len, json_string_value(v), json_string_length(v), NULL, &bin_len, NULL,
			      sodium_base64_VARIANT_ORIGINAL) ||
	    bin_len != len)
		return -UM_ETRUNC;
	return 0;
}
