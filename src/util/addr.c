/* SPDX-License-Identifier: MIT */
/* Endpoints and prefixes (util/addr.h). Pure functions: no I/O, no
 * allocation, no globals; every parser takes untrusted text. */
#include "util/addr.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>

#include "util/error.h"

static const uint8_t v4_mapped_prefix[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};

size_t um_addr_family_bytes(uint8_t family)
{
	return family == UM_ADDR_IPV4 ? 4 : family == UM_ADDR_IPV6 ? 16 : 0;
}

int um_addr_family_to_af(uint8_t family)
{
	return family == UM_ADDR_IPV4 ? AF_INET : family == UM_ADDR_IPV6 ? AF_INET6 : AF_UNSPEC;
}

uint8_t um_addr_family_from_af(int af)
{
	return af == AF_INET ? UM_ADDR_IPV4 : af == AF_INET6 ? UM_ADDR_IPV6 : UM_ADDR_NONE;
}

void um_addr_unmap(struct um_addr *a)
{
	if (a->family != UM_ADDR_IPV6 || memcmp(a->addr, v4_mapped_prefix, sizeof(v4_mapped_prefix)))
		return;
	memmove(a->addr, a->addr + 12, 4);
	memset(a->addr + 4, 0, 12);
	a->family = UM_ADDR_IPV4;
}

/* A numeric address literal (NUL-terminated) into family/bytes. inet_pton
 * alone decides what is an address: no names, no scope ids. */
static int parse_literal(const char *text, uint8_t *family, uint8_t bytes[16])
{
	memset(bytes, 0, 16);
	if (inet_pton(AF_INET, text, bytes) == 1) {
		*family = UM_ADDR_IPV4;
		return 0;
	}
	if (inet_pton(AF_INET6, text, bytes) == 1) {
		*family = UM_ADDR_IPV6;
		return 0;
	}
	return -UM_EINVAL;
}

/* 1..max_digits decimal digits and nothing else, value <= max. */
static int parse_decimal(const char *text, unsigned max_digits, unsigned max, unsigned *out)
{
	unsigned value = 0, digits = 0;

	for (; *text; text++, digits++) {
		if (*text < '0' || *text > '9')
			return -UM_EINVAL;
		if (digits == max_digits)
			return -UM_ERANGE;
		value = value * 10 + (unsigned)(*text - '0');
	}
	if (digits == 0)
		return -UM_EINVAL;
	if (value > max)
		return -UM_ERANGE;
	*out = value;
	return 0;
}

int um_addr_parse_host(struct um_addr *out, const char *text)
{
	memset(out, 0, sizeof(*out));
	if (strlen(text) >= INET6_ADDRSTRLEN)
		return -UM_EINVAL;
	int r = parse_literal(text, &out->family, out->addr);
	if (r) {
		memset(out, 0, sizeof(*out));
		return r;
	}
	um_addr_unmap(out);
	return 0;
}

int um_addr_parse(struct um_addr *out, const char *text)
{
	char host[INET6_ADDRSTRLEN];
	const char *host_start, *port_text;
	size_t host_len;
	unsigned port;
	int r;

	memset(out, 0, sizeof(*out));
	if (text[0] == '[') {
		const char *close = strchr(text, ']');
		if (!close || close[1] != ':')
			return -UM_EINVAL;
		host_start = text + 1;
		host_len = (size_t)(close - host_start);
		port_text = close + 2;
		/* Brackets are for IPv6 only: "[1.2.3.4]:5" is refused below. */
		if (!memchr(host_start, ':', host_len))
			return -UM_EINVAL;
	} else {
		const char *colon = strrchr(text, ':');
		if (!colon || memchr(text, ':', (size_t)(colon - text)))
			return -UM_EINVAL; /* no port, or IPv6 without brackets */
		host_start = text;
		host_len = (size_t)(colon - text);
		port_text = colon + 1;
	}
	if (host_len == 0 || host_len >= sizeof(host))
		return -UM_EINVAL;
	memcpy(host, host_start, host_len);
	host[host_len] = '\0';
	if ((r = parse_decimal(port_text, 5, 65535, &port)))
		return r;
	if (port == 0)
		return -UM_ERANGE;
	if ((r = parse_literal(host, &out->family, out->addr))) {
		memset(out, 0, sizeof(*out));
		return r;
	}
	out->port = (uint16_t)port;
	um_addr_unmap(out);
	return 0;
}

static int finish(int n, size_t size)
{
	return n < 0 || (size_t)n >= size ? -UM_ERANGE : 0;
}

int um_addr_format_host(const struct um_addr *a, char *out, size_t size)
{
	char text[INET6_ADDRSTRLEN];

	if (a->family == UM_ADDR_NONE)
		return finish(snprintf(out, size, "(none)"), size);
	if (!um_addr_family_bytes(a->family) ||
	    !inet_ntop(um_addr_family_to_af(a->family), a->addr, text, sizeof(text)))
		return -UM_EINVAL;
	return finish(snprintf(out, size, "%s", text), size);
}

int um_addr_format(const struct um_addr *a, char *out, size_t size)
{
	char text[INET6_ADDRSTRLEN];

	if (a->family == UM_ADDR_NONE)
		return finish(snprintf(out, size, "(none)"), size);
	if (!um_addr_family_bytes(a->family) ||
	    !inet_ntop(um_addr_family_to_af(a->family), a->addr, text, sizeof(text)))
		return -UM_EINVAL;
	if (a->family == UM_ADDR_IPV4)
		return finish(snprintf(out, size, "%s:%u", text, a->port), size);
	return finish(snprintf(out, size, "[%s]:%u", text, a->port), size);
}

bool um_addr_same_host(const struct um_addr *a, const struct um_addr *b)
{
	size_t n = um_addr_family_bytes(a->family);
	return n && a->family == b->family && memcmp(a->addr, b->addr, n) == 0;
}

bool um_addr_equal(const struct um_addr *a, const struct um_addr *b)
{
	if (a->family == UM_ADDR_NONE && b->family == UM_ADDR_NONE)
		return true; /* two unset endpoints (what the old serialise-compare said) */
	return a->port == b->port && um_addr_same_host(a, b);
}

/* Equal first `bits` bits of two byte strings. */
static bool bits_equal(const uint8_t *a, const uint8_t *b, unsigned bits)
{
	unsigned whole = bits / 8, rest = bits % 8;

	if (memcmp(a, b, whole))
		return false;
	if (!rest)
		return true;
	uint8_t mask = (uint8_t)(0xff << (8 - rest));
	return ((a[whole] ^ b[whole]) & mask) == 0;
}

static unsigned cap_bits(uint8_t family, unsigned v4_bits, unsigned v6_bits)
{
	unsigned bits = family == UM_ADDR_IPV4 ? v4_bits : v6_bits, width = (unsigned)um_addr_family_bytes(family) * 8;
	return bits < width ? bits : width;
}

bool um_addr_same_network(const struct um_addr *a, const struct um_addr *b, unsigned v4_bits, unsigned v6_bits)
{
	if (!um_addr_family_bytes(a->family) || a->family != b->family)
		return false;
	return bits_equal(a->addr, b->addr, cap_bits(a->family, v4_bits, v6_bits));
}

int um_addr_network(const struct um_addr *a, unsigned v4_bits, unsigned v6_bits, struct um_addr_prefix *out)
{
	memset(out, 0, sizeof(*out));
	if (!um_addr_family_bytes(a->family))
		return -UM_EINVAL;
	out->family = a->family;
	out->len = (uint8_t)cap_bits(a->family, v4_bits, v6_bits);
	memcpy(out->addr, a->addr, um_addr_family_bytes(a->family));
	um_addr_prefix_mask(out);
	return 0;
}

int um_addr_from_sockaddr(struct um_addr *out, const struct sockaddr *sa, socklen_t len)
{
	memset(out, 0, sizeof(*out));
	if (!sa)
		return -UM_EINVAL;
	if (sa->sa_family == AF_INET && len >= (socklen_t)sizeof(struct sockaddr_in)) {
		const struct sockaddr_in *in4 = (const struct sockaddr_in *)sa;
		out->family = UM_ADDR_IPV4;
		memcpy(out->addr, &in4->sin_addr, 4);
		out->port = ntohs(in4->sin_port);
		return 0;
	}
	if (sa->sa_family == AF_INET6 && len >= (socklen_t)sizeof(struct sockaddr_in6)) {
		const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *)sa;
		out->family = UM_ADDR_IPV6;
		memcpy(out->addr, &in6->sin6_addr, 16);
		out->port = ntohs(in6->sin6_port);
		um_addr_unmap(out);
		return 0;
	}
	return -UM_EINVAL;
}

int um_addr_to_sockaddr(const struct um_addr *a, struct sockaddr_storage *out)
{
	memset(out, 0, sizeof(*out));
	if (a->family == UM_ADDR_IPV4) {
		struct sockaddr_in *in4 = (struct sockaddr_in *)out;
		in4->sin_family = AF_INET;
		memcpy(&in4->sin_addr, a->addr, 4);
		in4->sin_port = htons(a->port);
		return (int)sizeof(*in4);
	}
	if (a->family == UM_ADDR_IPV6) {
		struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)out;
		in6->sin6_family = AF_INET6;
		memcpy(&in6->sin6_addr, a->addr, 16);
		in6->sin6_port = htons(a->port);
		return (int)sizeof(*in6);
	}
	return -UM_EINVAL;
}

int um_addr_to_sockaddr_for(const struct um_addr *a, int socket_af, struct sockaddr_storage *out)
{
	if (socket_af == AF_INET6 && a->family == UM_ADDR_IPV4) {
		struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)out;
		memset(out, 0, sizeof(*out));
		in6->sin6_family = AF_INET6;
		memcpy(in6->sin6_addr.s6_addr, v4_mapped_prefix, sizeof(v4_mapped_prefix));
		memcpy(in6->sin6_addr.s6_addr + 12, a->addr, 4);
		in6->sin6_port = htons(a->port);
		return (int)sizeof(*in6);
	}
	if (socket_af == AF_INET && a->family == UM_ADDR_IPV6) {
		memset(out, 0, sizeof(*out));
		return -UM_EINVAL;
	}
	return um_addr_to_sockaddr(a, out);
}

void um_addr_write(struct um_writer *w, const struct um_addr *a)
{
	uint8_t bytes[16] = {0};
	size_t n = um_addr_family_bytes(a->family);

	memcpy(bytes, a->addr, n);
	um_write_u8(w, n ? a->family : UM_ADDR_NONE);
	um_write_u8(w, 0);
	um_write_u16(w, n ? a->port : 0);
	um_write_bytes(w, bytes, sizeof(bytes));
}

int um_addr_read(struct um_reader *r, struct um_addr *out, bool allow_unset)
{
	static const uint8_t zero[16];
	uint8_t family = um_read_u8(r);
	uint8_t reserved = um_read_u8(r);
	uint16_t port = um_read_u16(r);
	const uint8_t *bytes = um_read_bytes(r, 16);

	memset(out, 0, sizeof(*out));
	if (um_reader_error(r))
		return -UM_ETRUNC;
	if (reserved)
		return -UM_EINVAL;
	if (family == UM_ADDR_NONE)
		return allow_unset && port == 0 && !memcmp(bytes, zero, 16) ? 0 : -UM_EINVAL;
	if (family == UM_ADDR_IPV4) {
		if (memcmp(bytes + 4, zero, 12))
			return -UM_EINVAL;
	} else if (family != UM_ADDR_IPV6) {
		return -UM_EINVAL;
	}
	out->family = family;
	out->port = port;
	memcpy(out->addr, bytes, um_addr_family_bytes(family));
	return 0;
}

void um_addr_encode(const struct um_addr *a, uint8_t out[UM_ADDR_WIRE_BYTES])
{
	struct um_writer w;

	um_writer_init(&w, out, UM_ADDR_WIRE_BYTES);
	um_addr_write(&w, a);
}

/* ---- prefixes ----------------------------------------------------------- */

int um_addr_prefix_parse(struct um_addr_prefix *out, const char *text, bool allow_host_bits)
{
	char host[INET6_ADDRSTRLEN];
	const char *slash = strchr(text, '/');
	size_t host_len = slash ? (size_t)(slash - text) : strlen(text);
	unsigned len, width;
	int r;

	memset(out, 0, sizeof(*out));
	if (host_len == 0 || host_len >= sizeof(host))
		return -UM_EINVAL;
	memcpy(host, text, host_len);
	host[host_len] = '\0';
	if ((r = parse_literal(host, &out->family, out->addr)))
		goto fail;
	width = (unsigned)um_addr_family_bytes(out->family) * 8;
	len = width;
	/* More than 3 digits ("/0008") is malformed, as both old parsers said. */
	r = slash && strlen(slash + 1) > 3 ? -UM_EINVAL : 0;
	if (r || (slash && (r = parse_decimal(slash + 1, 3, width, &len))))
		goto fail;
	out->len = (uint8_t)len;
	if (!allow_host_bits) {
		struct um_addr_prefix masked = *out;
		um_addr_prefix_mask(&masked);
		if (memcmp(masked.addr, out->addr, sizeof(out->addr))) {
			r = -UM_EINVAL;
			goto fail;
		}
	}
	return 0;
fail:
	memset(out, 0, sizeof(*out));
	return r;
}

int um_addr_prefix_format(const struct um_addr_prefix *p, char *out, size_t size)
{
	char text[INET6_ADDRSTRLEN];

	if (!um_addr_family_bytes(p->family) ||
	    !inet_ntop(um_addr_family_to_af(p->family), p->addr, text, sizeof(text)))
		return -UM_EINVAL;
	return finish(snprintf(out, size, "%s/%u", text, p->len), size);
}

void um_addr_prefix_mask(struct um_addr_prefix *p)
{
	unsigned width = (unsigned)um_addr_family_bytes(p->family) * 8;
	unsigned len = p->len < width ? p->len : width;

	for (unsigned bit = len; bit < 128; bit++)
		p->addr[bit / 8] &= (uint8_t) ~(0x80u >> (bit % 8));
}

bool um_addr_prefix_contains_bytes(const struct um_addr_prefix *p, uint8_t family, const uint8_t *bytes)
{
	unsigned width = (unsigned)um_addr_family_bytes(p->family) * 8;

	if (!width || family != p->family || p->len > width)
		return false;
	return bits_equal(p->addr, bytes, p->len);
}

bool um_addr_prefix_contains(const struct um_addr_prefix *p, const struct um_addr *a)
{
	return um_addr_prefix_contains_bytes(p, a->family, a->addr);
}

bool um_addr_prefix_equal(const struct um_addr_prefix *a, const struct um_addr_prefix *b)
{
	return a->family == b->family && a->len == b->len && um_addr_prefix_contains_bytes(a, b->family, b->addr);
}
