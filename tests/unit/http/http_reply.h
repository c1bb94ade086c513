/* SPDX-License-Identifier: MIT */
/* A raw HTTP answer for the API tests that speak to a listener with libcurl
 * directly (malformed bodies, wrong methods, replays): its status and the
 * first 64 KiB of its body, NUL-terminated. */
#ifndef UM_TEST_HTTP_REPLY_H
#define UM_TEST_HTTP_REPLY_H

#include <stdbool.h>
#include <stddef.h>
#include <string.h>

#include <curl/curl.h>
#include <jansson.h>

struct reply {
	long status;
	char body[65536];
	size_t len;
};

/* CURLOPT_WRITEFUNCTION with a struct reply as its data: keeps what fits,
 * takes everything (a longer answer is cut, not an error). */
static inline size_t reply_on_data(char *p, size_t size, size_t n, void *arg)
{
	struct reply *r = arg;
	size_t k = size * n;

	if (k > sizeof(r->body) - 1 - r->len)
		k = sizeof(r->body) - 1 - r->len;
	memcpy(r->body + r->len, p, k);
	r->len += k;
	r->body[r->len] = 0;
	return size * n;
}

/* Runs the request set up on c (owned: cleaned up here, with the header
 * list h, may be NULL): r->status is the HTTP status, or -1 without an
 * answer; returned. */
static inline long reply_perform(CURL *c, struct curl_slist *h, struct reply *r)
{
	if (curl_easy_perform(c) == CURLE_OK)
		curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &r->status);
	else
		r->status = -1;
	curl_slist_free_all(h);
	curl_easy_cleanup(c);
	return r->status;
}

/* Every error of the APIs is a JSON object with a string "error". */
static inline bool reply_is_error_json(const struct reply *r)
{
	json_t *o = json_loads(r->body, 0, NULL);
	bool ok = o && json_is_string(json_object_get(o, "error"));

	json_decref(o);
	return ok;
}

#endif
