/* SPDX-License-Identifier: MIT */
/* Error convention: functions return 0 on success or a negative code.
 * A negative code is either -errno (from the OS) or -UM_E* (umbra's own,
 * numbered above any errno so the two never collide). */
#ifndef UM_UTIL_ERROR_H
#define UM_UTIL_ERROR_H

enum um_error {
	UM_EBASE = 4096,
	UM_EINVAL,    /* invalid argument or malformed input */
	UM_EBADMSG,   /* authentication / verification failed */
	UM_ETRUNC,    /* input shorter than its format requires */
	UM_ERANGE,    /* value outside its permitted range */
	UM_ENOMEM,    /* allocation failed or a memory cap was hit */
	UM_EPERM,     /* file permissions unsafe (e.g. key readable by others) */
	UM_ECHECKSUM, /* checksum mismatch (corrupted or mistyped text) */
	UM_EVERSION,  /* unsupported format version */
	UM_ECONFIG,   /* configuration error (details logged at the boundary) */
	UM_EREPLAY,   /* replayed or too-old message */
	UM_ELIMIT,    /* a rate limit or cap rejected the request */
	UM_EAGAIN,    /* try again later (not an error of the input) */
	UM_ENOTFOUND, /* no such peer/entry */
	UM_ESTATE,    /* operation not valid in the current state */
	UM_ENOKEY,    /* no session key to send under (yet) */
	UM_EEXIST,    /* already there (a duplicate: e.g. a message ID stored before) */
	UM_ELAST
};

/* Human-readable text for a code; accepts positive or negative values and
 * both errno and UM_E* codes. Never returns NULL; the string is static. */
const char *um_strerror(int code);

#endif
