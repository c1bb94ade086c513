/* SPDX-License-Identifier: MIT */
/* IP endpoints (address + UDP port) and IP prefixes: one type each, with
 * parse, format, compare, sockaddr conversion and one wire encoding.
 *
 * struct um_addr is compact and comparable (no padding bytes that vary):
 * family is UM_ADDR_IPV4 (4), UM_ADDR_IPV6 (6) or UM_ADDR_NONE (0 = unset),
 * addr holds the address in network order (IPv4 in addr[0..3], addr[4..15]
 * zero), port is in host order. One form per host: an IPv4-mapped IPv6
 * address (::ffff:a.b.c.d) coming from a dual-stack socket is stored as
 * IPv4; um_addr_to_sockaddr_for() maps it back for an AF_INET6 socket.
 *
 * struct um_addr_prefix uses the same family values and address layout,
 * plus len (the prefix length in bits). Host bits beyond len are kept as
 * written (an interface address such as 100.64.0.1/10 needs them) and
 * ignored by every comparison; um_addr_prefix_mask() clears them.
 *
 * Wire encoding (UM_ADDR_WIRE_BYTES = 20, big-endian, util/buf.h):
 *
 *   0      1      2      4                                 20
 *   family | 0    | port | address (16)                     |
 *
 * family is 0, 4 or 6; the second byte is reserved and must be zero; IPv4
 * is zero-padded (bytes 4..15 of the address zero), never v4-mapped, so an
 * endpoint has exactly one encoding and the bytes can be hashed or MACed.
 * An unset endpoint is 20 zero bytes and is accepted only where the message
 * allows it (allow_unset). This is byte for byte the relay messages'
 * endpoint (wire/relay.c), so moving relay messages onto it changes nothing
 * on the wire.
 *
 * ---- Mapping from the types this replaces (for the conversion) ----------
 *
 * struct um_wire_addr (wire/handshake.h)   -> struct um_addr (same fields,
 *                                             same values: a pure rename)
 *   um_wire_addr_from_sockaddr(o, sa, len) -> um_addr_from_sockaddr(o, sa, len)
 *                                             (also unmaps ::ffff:a.b.c.d)
 *   um_wire_addr_to_sockaddr(a, ss)        -> um_addr_to_sockaddr(a, ss)
 *   um_wire_addr_equal(a, b)               -> um_addr_equal(a, b)
 *   um_wire_addr_serialise(a, out[19])     -> um_addr_encode(a, out[20])
 *     UM_WIRE_ADDR_BYTES (19)              -> UM_ADDR_WIRE_BYTES (20)
 *     (session/cookie.c MAC input and relay/relay.c hash_endpoint: both are
 *     local to one process, so the longer input changes nothing on the wire)
 *   um_wire_addr_format (node/uplink.c)    -> um_addr_format ("(none)" if unset)
 *   same_host() session/handshake.c:355,
 *               wire/fragment.c:152        -> um_addr_same_host(a, b)
 *   endpoint_equal() relay/relay.c:99      -> um_addr_equal(a, b)
 *   addr_from_sockaddr() relay/server.c    -> um_addr_from_sockaddr()
 *   addr_to_sockaddr(s, a, ss) relay/server.c
 *                                          -> um_addr_to_sockaddr_for(a,
 *                                  s->ipv6_socket ? AF_INET6 : AF_INET, ss)
 *   write_endpoint(w, a) wire/relay.c      -> um_addr_write(w, a)
 *   read_endpoint(r, a, allow_empty)       -> um_addr_read(r, a, allow_empty)
 *   put_addr/get_addr wire/path.c          -> kind byte + um_addr_write/read
 *                                             (path layout changes: versioned)
 *   source_key() session/ratelimit.c       -> um_addr_network(a, 32, 64, &net)
 *                                             (key = net.family + net.addr)
 * struct um_endpoint (ctl/config.h)        -> struct um_addr
 *   ep.len == 0 (unset)                    -> a.family == UM_ADDR_NONE
 *   ep.sa / ep.len passed to socket calls  -> um_addr_to_sockaddr(&a, &ss)
 *   um_endpoint_parse(ep, text)            -> um_addr_parse(a, text)
 *   um_endpoint_format(ep, out, size)      -> um_addr_format(a, out, size)
 * sockaddr_storage sa + socklen_t sa_len (node/node.h um_node_uplink,
 *   um_node_stun)                          -> drop; um_addr_to_sockaddr()
 *                                             where a sockaddr is needed
 * struct um_cidr (ctl/config.h)            -> struct um_addr_prefix
 *   .family AF_INET / AF_INET6             -> .family UM_ADDR_IPV4 / _IPV6
 *   .prefix                                -> .len
 *   um_cidr_parse(c, text)                 -> um_addr_prefix_parse(c, text, true)
 *   um_cidr_format(c, out, size)           -> um_addr_prefix_format(c, out, size)
 *   um_cidr_contains(c, AF_INET, bytes)    -> um_addr_prefix_contains_bytes(c,
 *                                                  UM_ADDR_IPV4, bytes)
 *   um_cidr_same_network(a, b)             -> um_addr_prefix_equal(a, b)
 * struct um_prefix (net/lpm.h)             -> struct um_addr_prefix
 *   .family AF_INET / AF_INET6             -> .family UM_ADDR_IPV4 / _IPV6
 *   .len                                   -> .len
 *   um_prefix_parse(text, host_bits, out)  -> um_addr_prefix_parse(out, text, host_bits)
 *   um_prefix_format(p, buf, size)         -> um_addr_prefix_format(p, buf, size)
 *   tun.c netlink family (ifa_family, rtm_family)
 *                                          -> um_addr_family_to_af(p->family)
 * cidr_to_prefix(c, p, keep) node/node.c   -> *p = *c; if (!keep)
 *                                             um_addr_prefix_mask(p);
 */
#ifndef UM_UTIL_ADDR_H
#define UM_UTIL_ADDR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include "util/buf.h"

enum um_addr_family {
	UM_ADDR_NONE = 0,
	UM_ADDR_IPV4 = 4,
	UM_ADDR_IPV6 = 6,
};

enum {
	UM_ADDR_WIRE_BYTES = 20,
	/* "[" + 45 (longest IPv6 text) + "]:" + 5 + NUL = 54. */
	UM_ADDR_TEXT_MAX = 56,
	/* 45 + "/128" + NUL = 50. */
	UM_ADDR_PREFIX_TEXT_MAX = 52,
	/* The networks one subscriber usually holds: what a per-source rate
	 * limit should count as one source (um_addr_same_network). */
	UM_ADDR_SUBSCRIBER_V4_BITS = 24,
	UM_ADDR_SUBSCRIBER_V6_BITS = 64,
};

struct um_addr {
	uint8_t family; /* enum um_addr_family */
	uint8_t addr[16];
	uint16_t port; /* host order */
};

struct um_addr_prefix {
	uint8_t family; /* enum um_addr_family (never NONE once parsed) */
	uint8_t addr[16];
	uint8_t len; /* prefix length in bits: 0..32 or 0..128 */
};

/* ---- endpoints ---------------------------------------------------------- */

/* Address bytes that matter for family: 4, 16, or 0 (unset/unknown). */
size_t um_addr_family_bytes(uint8_t family);
/* AF_INET / AF_INET6 / AF_UNSPEC for a UM_ADDR_* family, and back (0 for
 * anything else). */
int um_addr_family_to_af(uint8_t family);
uint8_t um_addr_family_from_af(int af);

/* "198.51.100.2:51820" or "[2001:db8::2]:51820": numeric only, IPv6 in
 * brackets, port 1..65535 in at most 5 digits, nothing before or after. An
 * IPv4-mapped IPv6 literal is stored as IPv4. Returns 0, -UM_EINVAL
 * (malformed) or -UM_ERANGE (port 0 or above 65535); *out is zeroed on error. */
int um_addr_parse(struct um_addr *out, const char *text);
/* A bare address ("192.0.2.1", "2001:db8::1"; no brackets, no port): port 0.
 * 0 or -UM_EINVAL. */
int um_addr_parse_host(struct um_addr *out, const char *text);
/* "a.b.c.d:port", "[v6]:port", or "(none)" when unset. 0, or -UM_ERANGE if
 * out (size bytes, UM_ADDR_TEXT_MAX always suffices) is too small, or
 * -UM_EINVAL for a family that is not 0, 4 or 6. */
int um_addr_format(const struct um_addr *a, char *out, size_t size);
/* The address alone ("a.b.c.d", "v6"), "(none)" when unset. */
int um_addr_format_host(const struct um_addr *a, char *out, size_t size);

/* Same family, address and port (bytes 4..15 of an IPv4 address ignored). */
bool um_addr_equal(const struct um_addr *a, const struct um_addr *b);
/* Same family and address, any port. Two unset endpoints are not a host. */
bool um_addr_same_host(const struct um_addr *a, const struct um_addr *b);
/* Same family and the first v4_bits (IPv4) or v6_bits (IPv6) of the address
 * equal: UM_ADDR_SUBSCRIBER_V4_BITS / _V6_BITS for "same subscriber". */
bool um_addr_same_network(const struct um_addr *a, const struct um_addr *b, unsigned v4_bits, unsigned v6_bits);
/* The network of a (host bits cleared, unused bytes zero: usable as a hash or
 * table key). Bits are capped at the family's width. -UM_EINVAL if unset. */
int um_addr_network(const struct um_addr *a, unsigned v4_bits, unsigned v6_bits, struct um_addr_prefix *out);
/* ::ffff:a.b.c.d (family 6) -> a.b.c.d (family 4); anything else unchanged. */
void um_addr_unmap(struct um_addr *a);

/* From a sockaddr_in / sockaddr_in6 of at least its size (len); v4-mapped
 * IPv6 is stored as IPv4. 0 or -UM_EINVAL (out zeroed). */
int um_addr_from_sockaddr(struct um_addr *out, const struct sockaddr *sa, socklen_t len);
/* Fills a sockaddr_in / sockaddr_in6 into *out (zeroed first); returns its
 * length or -UM_EINVAL when a is unset. */
int um_addr_to_sockaddr(const struct um_addr *a, struct sockaddr_storage *out);
/* As um_addr_to_sockaddr, in the form a socket of socket_af wants: IPv4 as
 * v4-mapped sockaddr_in6 for AF_INET6 (dual-stack) sockets; IPv6 refused
 * (-UM_EINVAL) for AF_INET sockets. */
int um_addr_to_sockaddr_for(const struct um_addr *a, int socket_af, struct sockaddr_storage *out);

/* The 20-byte encoding above. um_addr_write sets the writer's error if full
 * (an unset or unknown family is written as 20 zero bytes). um_addr_read
 * returns 0, -UM_ETRUNC (short: also sets the reader's error) or -UM_EINVAL
 * (unknown family, reserved byte set, IPv4 padding not zero, unset when
 * !allow_unset, or unset but not all zero); *out is zeroed on error. Port 0
 * is accepted for a set address, as wire/relay.c does today. */
void um_addr_write(struct um_writer *w, const struct um_addr *a);
int um_addr_read(struct um_reader *r, struct um_addr *out, bool allow_unset);
/* The encoding into a plain array: a canonical key for MACs and hashes. */
void um_addr_encode(const struct um_addr *a, uint8_t out[UM_ADDR_WIRE_BYTES]);

/* ---- prefixes ----------------------------------------------------------- */

/* "10.0.0.0/8", "fd00::/64", or a bare address (full length). The length is
 * 1 to 3 decimal digits, at most 32 / 128. Host bits set beyond the length
 * are refused (-UM_EINVAL) unless allow_host_bits, and then kept. Returns 0,
 * -UM_EINVAL (malformed, or more than 3 digits) or -UM_ERANGE (length above
 * 32 / 128); *out zeroed on error. A v4-mapped IPv6 prefix stays IPv6 (it names IPv6 space). */
int um_addr_prefix_parse(struct um_addr_prefix *out, const char *text, bool allow_host_bits);
/* "addr/len" (host bits as stored). 0, -UM_ERANGE (out too small: size
 * UM_ADDR_PREFIX_TEXT_MAX always suffices) or -UM_EINVAL (bad family). */
int um_addr_prefix_format(const struct um_addr_prefix *p, char *out, size_t size);
/* Clear the host bits beyond len (and the unused bytes of IPv4). */
void um_addr_prefix_mask(struct um_addr_prefix *p);
/* Does p contain the address (family UM_ADDR_*, 4 or 16 bytes)? */
bool um_addr_prefix_contains_bytes(const struct um_addr_prefix *p, uint8_t family, const uint8_t *bytes);
bool um_addr_prefix_contains(const struct um_addr_prefix *p, const struct um_addr *a);
/* The same network: same family and length, equal bits up to len. */
bool um_addr_prefix_equal(const struct um_addr_prefix *a, const struct um_addr_prefix *b);

#endif
