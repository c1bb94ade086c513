/* SPDX-License-Identifier: MIT */
/* Shared by the relay APIs' clients (client.h). */
#include "http/client.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

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
