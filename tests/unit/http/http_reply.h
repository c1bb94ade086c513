/* SPDX-License-Identifier: MIT */
/* A raw HTTP answer for the API tests that speak to a listener with libcurl
 * directly (malformed bodies, wrong methods, replays): its status and the
 * first 64 KiB of its body, NUL-terminated. */
#ifndef UM_TEST_HTTP_REPLY_H
#define UM_TEST_HTTP_REPLY_H

#include <stddef.h>
#include <string.h>

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

#endif
