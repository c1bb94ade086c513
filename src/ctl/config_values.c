/* SPDX-License-Identifier: MIT */
/* The config's value parsers: numbers, durations, CIDR prefixes and
 * endpoints. Pure string functions (no I/O), shared by the config parser,
 * the control protocol and tests; declared in ctl/config.h. */
#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ctl/config.h"
#include "util/error.h"

int um_config_parse_uint(const char *text, unsigned long long max, unsigned long long *out)
{
	char *end;

	if (!isdigit((unsigned char)text[0]))
		return -UM_EINVAL;
	errno = 0;
	unsigned long long v = strtoull(text, &end, 10);
	if (errno == ERANGE || v > max)
		return -UM_ERANGE;
	if (*end)
		return -UM_EINVAL;
	*out = v;
	return 0;
}

int um_duration_parse(const char *text, uint64_t *ms)
{
	char number[24];
	size_t digits = strspn(text, "0123456789");
	const char *unit = text + digits;
	unsigned long long v, scale;

	if (digits == 0 || digits >= sizeof(number))
		return digits ? -UM_ERANGE : -UM_EINVAL;
	memcpy(number, text, digits);
	number[digits] = '\0';
	if (!*unit || !strcmp(unit, "s"))
		scale = 1000;
	else if (!strcmp(unit, "ms"))
		scale = 1;
	else if (!strcmp(unit, "m"))
		scale = 60 * 1000;
	else
		return -UM_EINVAL;
	int r = um_config_parse_uint(number, 86400ULL * 1000, &v);
	if (r)
		return r;
	if (v == 0 || v * scale > 86400ULL * 1000)
		return -UM_ERANGE;
	*ms = v * scale;
	return 0;
}

int um_cidr_parse(struct um_cidr *cidr, const char *text)
{
	char buf[INET6_ADDRSTRLEN + 8];
	const char *slash = strchr(text, '/');
	size_t addr_len = slash ? (size_t)(slash - text) : strlen(text);
	unsigned long long prefix;

	if (addr_len == 0 || addr_len >= INET6_ADDRSTRLEN)
		return -UM_EINVAL;
	memcpy(buf, text, addr_len);
	buf[addr_len] = '\0';
	memset(cidr, 0, sizeof(*cidr));
	if (inet_pton(AF_INET, buf, cidr->addr) == 1)
		cidr->family = AF_INET;
	else if (inet_pton(AF_INET6, buf, cidr->addr) == 1)
		cidr->family = AF_INET6;
	else
		return -UM_EINVAL;
	unsigned max = cidr->family == AF_INET ? 32 : 128;
	if (!slash) {
		cidr->prefix = (uint8_t)max;
		return 0;
	}
	int r = um_config_parse_uint(slash + 1, max, &prefix);
	if (r)
		return r;
	if (strlen(slash + 1) > 3)
		return -UM_EINVAL; /* no "/0032" */
	cidr->prefix = (uint8_t)prefix;
	return 0;
}

int um_cidr_format(const struct um_cidr *cidr, char *out, size_t out_size)
{
	char addr[INET6_ADDRSTRLEN];

	if (!inet_ntop(cidr->family, cidr->addr, addr, sizeof(addr)))
		return -UM_EINVAL;
	int n = snprintf(out, out_size, "%s/%u", addr, cidr->prefix);
	return n < 0 || (size_t)n >= out_size ? -UM_ERANGE : 0;
}

bool um_cidr_contains(const struct um_cidr *prefix, int family, const uint8_t *addr)
{
	unsigned bits = prefix->prefix, i = 0;

	if (family != prefix->family)
		return false;
	for (; bits >= 8; bits -= 8, i++)
		if (prefix->addr[i] != addr[i])
			return false;
	if (bits) {
		uint8_t mask = (uint8_t)(0xff << (8 - bits));
		if ((prefix->addr[i] ^ addr[i]) & mask)
			return false;
	}
	return true;
}

/* Two prefixes name the same network (host bits ignored). */
bool um_cidr_same_network(const struct um_cidr *a, const struct um_cidr *b)
{
	return a->family == b->family && a->prefix == b->prefix && um_cidr_contains(a, b->family, b->addr);
}

int um_endpoint_parse(struct um_endpoint *endpoint, const char *text)
{
	char host[INET6_ADDRSTRLEN + 1];
	const char *port_text;
	size_t host_len;
	unsigned long long port;

	memset(endpoint, 0, sizeof(*endpoint));
	if (text[0] == '[') {
		const char *close = strchr(text, ']');
		if (!close || close[1] != ':')
			return -UM_EINVAL;
		host_len = (size_t)(close - text - 1);
		text++;
		port_text = close + 2;
	} else {
		const char *colon = strrchr(text, ':');
		if (!colon || memchr(text, ':', (size_t)(colon - text)))
			return -UM_EINVAL; /* bare IPv6 must be bracketed */
		host_len = (size_t)(colon - text);
		port_text = colon + 1;
	}
	if (host_len == 0 || host_len >= sizeof(host))
		return -UM_EINVAL;
	memcpy(host, text, host_len);
	host[host_len] = '\0';
	int r = um_config_parse_uint(port_text, 65535, &port);
	if (r)
		return r;
	if (port == 0 || strlen(port_text) > 5)
		return -UM_ERANGE;
	if (inet_pton(AF_INET, host, &endpoint->in4.sin_addr) == 1) {
		endpoint->in4.sin_family = AF_INET;
		endpoint->in4.sin_port = htons((uint16_t)port);
		endpoint->len = sizeof(endpoint->in4);
	} else if (inet_pton(AF_INET6, host, &endpoint->in6.sin6_addr) == 1) {
		endpoint->in6.sin6_family = AF_INET6;
		endpoint->in6.sin6_port = htons((uint16_t)port);
		endpoint->len = sizeof(endpoint->in6);
	} else {
		return -UM_EINVAL;
	}
	return 0;
}

int um_endpoint_format(const struct um_endpoint *endpoint, char *out, size_t out_size)
{
	char addr[INET6_ADDRSTRLEN];
	int n;

	if (endpoint->len == 0 || endpoint->sa.sa_family == AF_UNSPEC) {
		n = snprintf(out, out_size, "(none)");
	} else if (endpoint->sa.sa_family == AF_INET) {
		inet_ntop(AF_INET, &endpoint->in4.sin_addr, addr, sizeof(addr));
		n = snprintf(out, out_size, "%s:%u", addr, ntohs(endpoint->in4.sin_port));
	} else if (endpoint->sa.sa_family == AF_INET6) {
		inet_ntop(AF_INET6, &endpoint->in6.sin6_addr, addr, sizeof(addr));
		n = snprintf(out, out_size, "[%s]:%u", addr, ntohs(endpoint->in6.sin6_port));
	} else {
		return -UM_EINVAL;
	}
	return n < 0 || (size_t)n >= out_size ? -UM_ERANGE : 0;
}

