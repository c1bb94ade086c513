/* SPDX-License-Identifier: MIT */
#include "util/error.h"

#include <string.h>

static const char *const um_error_text[] = {
    [UM_EINVAL - UM_EBASE] = "invalid argument or malformed input",
    [UM_EBADMSG - UM_EBASE] = "authentication failed",
    [UM_ETRUNC - UM_EBASE] = "input truncated",
    [UM_ERANGE - UM_EBASE] = "value out of range",
    [UM_ENOMEM - UM_EBASE] = "out of memory or cap reached",
    [UM_EPERM - UM_EBASE] = "unsafe file permissions",
    [UM_ECHECKSUM - UM_EBASE] = "checksum mismatch",
    [UM_EVERSION - UM_EBASE] = "unsupported version",
    [UM_ECONFIG - UM_EBASE] = "configuration error",
    [UM_EREPLAY - UM_EBASE] = "replayed or stale message",
    [UM_ELIMIT - UM_EBASE] = "rate limit or cap reached",
    [UM_EAGAIN - UM_EBASE] = "try again later",
    [UM_ENOTFOUND - UM_EBASE] = "not found",
    [UM_ESTATE - UM_EBASE] = "invalid in current state",
    [UM_ENOKEY - UM_EBASE] = "no session key",
    [UM_EEXIST - UM_EBASE] = "already exists",
};

const char *um_strerror(int code)
{
	if (code < 0)
		code = -code;
	if (code == 0)
		return "success";
	if (code > UM_EBASE && code < UM_ELAST && um_error_text[code - UM_EBASE])
		return um_error_text[code - UM_EBASE];
	if (code < UM_EBASE)
		return strerror(code);
	return "unknown error";
}
