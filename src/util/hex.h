/* SPDX-License-Identifier: MIT */
/* Hex digits: one reading of them for every text parser (control lines,
 * JSON escapes, hex fields). */
#ifndef UM_UTIL_HEX_H
#define UM_UTIL_HEX_H

/* The value of one hex digit (either case), or -1. */
static inline int um_hex_digit(int c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

#endif
