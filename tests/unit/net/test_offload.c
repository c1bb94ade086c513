/* SPDX-License-Identifier: MIT */
/* Offload helpers: checksums, TSO split, GRO coalescing. The round trip
 * split -> coalesce must reproduce the TCP payload byte for byte with valid
 * checksums at every step. */
#include <stdlib.h>

#include "net/offload.h"
#include "test.h"
#include "util/error.h"

static uint16_t be16(const uint8_t *p)
{
	return (uint16_t)(p[0] << 8 | p[1]);
}

static uint32_t be32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static void put16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}

static void test_checksum_known(void)
{
	/* RFC 1071 example: one's complement sum 0xddf2. */
	const uint8_t data[8] = {0x00, 0x01, 0xf2, 0x03, 0xf4, 0xf5, 0xf6, 0xf7};
	uint16_t folded = um_csum_fold(um_csum_add(0, data, 8));
	uint8_t out[2];
	memcpy(out, &folded, 2);
	CHECK_EQ(out[0], 0xdd);
	CHECK_EQ(out[1], 0xf2);
	/* A well-known IPv4 header whose checksum is 0xb861. */
	uint8_t ip[20] = {0x45, 0, 0, 0x73, 0, 0, 0x40, 0, 0x40, 0x11, 0, 0, 0xc0, 0xa8, 0, 1, 0xc0, 0xa8, 0, 0xc7};
	uint16_t c = (uint16_t)~um_csum_fold(um_csum_add(0, ip, 20));
	memcpy(ip + 10, &c, 2);
	CHECK_EQ(be16(ip + 10), 0xb861);
	/* Odd lengths and split sums agree with one pass over the whole. */
	uint8_t big[1001];
	for (size_t i = 0; i < sizeof(big); i++)
		big[i] = (uint8_t)(i * 7 + 3);
	for (size_t cut = 0; cut <= 16; cut += 2)
		CHECK_EQ(um_csum_fold(um_csum_add(um_csum_add(0, big, cut), big + cut, sizeof(big) - cut)),
			 um_csum_fold(um_csum_add(0, big, sizeof(big))));
}

/* A TCP super-packet as the TUN hands it over: NEEDS_CSUM with the
 * pseudo-header sum in the check field. */
static size_t make_super(uint8_t *pkt, bool v6, size_t payload, uint8_t flags, uint32_t seq)
{
	size_t ip_len = v6 ? 40 : 20, tcp_len = 32, total = ip_len + tcp_len + payload;
	memset(pkt, 0, ip_len + tcp_len);
	if (v6) {
		pkt[0] = 0x60;
		put16(pkt + 4, (uint16_t)(total - 40));
		pkt[6] = 6;
		pkt[7] = 64;
		pkt[8] = 0xfd;
		pkt[23] = 1;
		pkt[24] = 0xfd;
		pkt[39] = 2;
	} else {
		pkt[0] = 0x45;
		put16(pkt + 2, (uint16_t)total);
		put16(pkt + 4, 0x1234);
		pkt[6] = 0x40; /* DF */
		pkt[8] = 64;
		pkt[9] = 6;
		const uint8_t addrs[8] = {100, 64, 0, 1, 100, 64, 0, 2};
		memcpy(pkt + 12, addrs, 8);
		uint16_t c = (uint16_t)~um_csum_fold(um_csum_add(0, pkt, 20));
		memcpy(pkt + 10, &c, 2);
	}
	uint8_t *t = pkt + ip_len;
	put16(t, 40000);
	put16(t + 2, 5201);
	t[4] = (uint8_t)(seq >> 24);
	t[5] = (uint8_t)(seq >> 16);
	t[6] = (uint8_t)(seq >> 8);
	t[7] = (uint8_t)seq;
	t[11] = 9; /* ack */
	t[12] = 8 << 4;
	t[13] = flags;
	put16(t + 14, 502);
	t[20] = 1;
	t[21] = 1;
	t[22] = 8;
	t[23] = 10; /* timestamp option */
	t[27] = 77;
	for (size_t i = 0; i < payload; i++)
		pkt[ip_len + tcp_len + i] = (uint8_t)(i * 31 + (i >> 8));
	size_t al = v6 ? 16 : 4, off = v6 ? 8 : 12;
	uint16_t ps = um_csum_fold(um_csum_pseudo(pkt + off, pkt + off + al, al, 6, (uint32_t)(tcp_len + payload)));
	memcpy(t + 16, &ps, 2);
	return total;
}

static bool tcp_valid(const uint8_t *pkt, size_t len)
{
	bool v6 = (pkt[0] >> 4) == 6;
	size_t ip_len = v6 ? 40 : 20, al = v6 ? 16 : 4, off = v6 ? 8 : 12;
	if (!v6 && um_csum_fold(um_csum_add(0, pkt, 20)) != 0xffff)
		return false;
	uint64_t s = um_csum_pseudo(pkt + off, pkt + off + al, al, 6, (uint32_t)(len - ip_len));
	return um_csum_fold(um_csum_add(s, pkt + ip_len, len - ip_len)) == 0xffff;
}

struct sink {
	uint8_t out[8][70000];
	size_t len[8];
	int count;
};

static int collect(const struct iovec *iov, int iovcnt, void *arg)
{
	struct sink *s = arg;
	if (s->count == 8)
		return -1;
	size_t n = 0;
	for (int i = 0; i < iovcnt; i++) {
		memcpy(s->out[s->count] + n, iov[i].iov_base, iov[i].iov_len);
		n += iov[i].iov_len;
	}
	s->len[s->count++] = n;
	return 0;
}

static void roundtrip(bool v6, size_t payload, uint8_t flags)
{
	static uint8_t super[70000], orig[70000], segs[64 * 2048];
	static struct sink sink;
	size_t len = make_super(super, v6, payload, flags, 0xfffff000u); /* seq wraps */
	memcpy(orig, super, len);
	size_t ip_len = v6 ? 40 : 20, hdr = ip_len + 32;
	struct um_vnet_hdr vh = {.flags = UM_VNET_F_NEEDS_CSUM,
				 .gso_type = v6 ? UM_VNET_GSO_TCPV6 : UM_VNET_GSO_TCPV4,
				 .hdr_len = (uint16_t)hdr,
				 .gso_size = 1368,
				 .csum_start = (uint16_t)ip_len,
				 .csum_offset = 16};
	struct um_tso_info info;
	CHECK_EQ(um_tso_parse(super, len, &vh, &info), 0);
	CHECK_EQ(info.hdr_len, hdr);
	CHECK_EQ(info.segments, (payload + 1367) / 1368);
	size_t seg_len[64], stride = 2048;
	CHECK(info.segments <= 64);
	/* Split in two chunks to exercise `first`. */
	size_t n1 = um_tso_split(super, &info, 0, 5, segs, stride, seg_len);
	size_t n2 = um_tso_split(super, &info, 5, 64, segs + 5 * stride, stride, seg_len + 5);
	CHECK_EQ(n1 + n2, info.segments);
	size_t offset = 0;
	for (size_t i = 0; i < info.segments; i++) {
		uint8_t *s = segs + i * stride;
		size_t plen = seg_len[i] - hdr;
		CHECK(tcp_valid(s, seg_len[i]));
		CHECK_EQ(be32(s + ip_len + 4), (uint32_t)(0xfffff000u + offset));
		CHECK_MEM(s + hdr, orig + hdr + offset, plen);
		uint8_t f = s[ip_len + 13];
		if (i + 1 < info.segments) {
			CHECK_EQ(plen, 1368);
			CHECK_EQ(f & 0x09, 0); /* FIN/PSH only on the last */
		} else {
			CHECK_EQ(f, flags);
		}
		if (!v6)
			CHECK_EQ(be16(s + 4), (uint16_t)(0x1234 + i));
		offset += plen;
	}
	CHECK_EQ(offset, payload);

	/* Coalesce them back. */
	struct um_gro gro;
	memset(&sink, 0, sizeof(sink));
	um_gro_init(&gro, collect, &sink);
	for (size_t i = 0; i < info.segments; i++)
		CHECK_EQ(um_gro_add(&gro, segs + i * stride, seg_len[i], false), 0);
	CHECK_EQ(um_gro_flush(&gro), 0);
	/* FIN is never coalesced: it comes out on its own. */
	bool fin = (flags & 0x01) && info.segments > 1;
	CHECK_EQ(sink.count, fin ? 2 : 1);
	static uint8_t joined[70000];
	size_t joined_len = 0;
	for (int k = 0; k < sink.count; k++) {
		struct um_vnet_hdr out;
		um_vnet_hdr_decode(sink.out[k], &out);
		uint8_t *pkt = sink.out[k] + UM_VNET_HDR_LEN;
		size_t plen = sink.len[k] - UM_VNET_HDR_LEN;
		size_t nseg = (plen - hdr + 1367) / 1368;
		if (nseg > 1) {
			CHECK_EQ(out.gso_type, v6 ? UM_VNET_GSO_TCPV6 : UM_VNET_GSO_TCPV4);
			CHECK_EQ(out.gso_size, 1368);
			CHECK_EQ(out.flags, UM_VNET_F_NEEDS_CSUM);
			CHECK_EQ(out.csum_start, ip_len);
			CHECK_EQ(out.csum_offset, 16);
			/* Finishing the partial checksum must give a valid packet. */
			CHECK_EQ(um_offload_finish_csum(pkt, plen, &out), 0);
		} else {
			CHECK_EQ(out.gso_type, UM_VNET_GSO_NONE);
		}
		CHECK(tcp_valid(pkt, plen));
		CHECK_EQ(be32(pkt + ip_len + 4), 0xfffff000u + (uint32_t)joined_len);
		if (k == sink.count - 1)
			CHECK_EQ(pkt[ip_len + 13], flags);
		memcpy(joined + joined_len, pkt + hdr, plen - hdr);
		joined_len += plen - hdr;
	}
	CHECK_EQ(joined_len, payload);
	CHECK_MEM(joined, orig + hdr, payload);
}

static void test_split_coalesce_roundtrip(void)
{
	roundtrip(false, 1368 * 47 + 100, 0x18);
	roundtrip(false, 1368 * 10, 0x10);
	roundtrip(false, 1368 * 3 + 1, 0x19); /* FIN|PSH|ACK on the last */
	roundtrip(false, 500, 0x18);          /* one segment */
	roundtrip(true, 1368 * 40 + 7, 0x18);
	roundtrip(true, 1368 * 2, 0x10);
}

/* The data plane's path: headers only with partial checksums, payload copied
 * next to them, coalesced with partial=true; every output, finished the way
 * the kernel would, must be valid and carry the original bytes. */
static void partial_roundtrip(bool v6, size_t payload, uint8_t flags)
{
	static uint8_t super[70000], orig[70000], segs[64 * 2048], joined[70000];
	static struct sink sink;
	size_t len = make_super(super, v6, payload, flags, 1000);
	memcpy(orig, super, len);
	size_t ip_len = v6 ? 40 : 20, hdr = ip_len + 32;
	struct um_vnet_hdr vh = {.flags = UM_VNET_F_NEEDS_CSUM,
				 .gso_type = v6 ? UM_VNET_GSO_TCPV6 : UM_VNET_GSO_TCPV4,
				 .gso_size = 1368,
				 .csum_start = (uint16_t)ip_len,
				 .csum_offset = 16};
	struct um_tso_info info;
	CHECK_EQ(um_tso_parse(super, len, &vh, &info), 0);
	size_t off[64], plen[64], stride = 2048;
	CHECK_EQ(um_tso_split_partial(super, &info, 0, 64, segs, stride, off, plen), info.segments);
	struct um_gro gro;
	memset(&sink, 0, sizeof(sink));
	um_gro_init(&gro, collect, &sink);
	for (size_t i = 0; i < info.segments; i++) {
		uint8_t *sgm = segs + i * stride;
		memcpy(sgm + hdr, super + off[i], plen[i]);
		struct um_vnet_hdr ph;
		CHECK_EQ(um_offload_partial_hdr(sgm, hdr + plen[i], &ph), 0);
		CHECK_EQ(ph.csum_start, ip_len);
		CHECK_EQ(ph.csum_offset, 16);
		/* Each segment alone is valid once finished. */
		static uint8_t copy[2048];
		memcpy(copy, sgm, hdr + plen[i]);
		CHECK_EQ(um_offload_finish_csum(copy, hdr + plen[i], &ph), 0);
		CHECK(tcp_valid(copy, hdr + plen[i]));
		CHECK_EQ(um_gro_add(&gro, sgm, hdr + plen[i], true), 0);
	}
	CHECK_EQ(um_gro_flush(&gro), 0);
	size_t joined_len = 0;
	for (int k = 0; k < sink.count; k++) {
		struct um_vnet_hdr out;
		um_vnet_hdr_decode(sink.out[k], &out);
		uint8_t *pkt = sink.out[k] + UM_VNET_HDR_LEN;
		size_t n = sink.len[k] - UM_VNET_HDR_LEN;
		CHECK_EQ(out.flags, UM_VNET_F_NEEDS_CSUM);
		CHECK_EQ(um_offload_finish_csum(pkt, n, &out), 0);
		CHECK(tcp_valid(pkt, n));
		memcpy(joined + joined_len, pkt + hdr, n - hdr);
		joined_len += n - hdr;
	}
	CHECK_EQ(joined_len, payload);
	CHECK_MEM(joined, orig + hdr, payload);
}

static void test_partial_roundtrip(void)
{
	partial_roundtrip(false, 1368 * 30 + 5, 0x18);
	partial_roundtrip(false, 700, 0x18); /* single segment: NEEDS_CSUM alone */
	partial_roundtrip(true, 1368 * 12, 0x10);
	/* Not TCP/UDP or truncated: refused. */
	uint8_t junk[60] = {0x45, 0, 0, 60, 0, 0, 0, 0, 64, 1};
	struct um_vnet_hdr ph;
	CHECK_EQ(um_offload_partial_hdr(junk, sizeof(junk), &ph), -UM_EINVAL);
	junk[9] = 6;
	CHECK_EQ(um_offload_partial_hdr(junk, 30, &ph), -UM_EINVAL);
	CHECK_EQ(um_offload_partial_hdr(junk, 40, &ph), 0);
	junk[6] = 0x20; /* fragment */
	CHECK_EQ(um_offload_partial_hdr(junk, 40, &ph), -UM_EINVAL);
}

static void test_finish_csum(void)
{
	/* UDP over IPv4 with NEEDS_CSUM: finished checksum verifies. */
	uint8_t pkt[100] = {0x45, 0, 0, 100, 0, 0, 0, 0, 64, 17, 0, 0, 10, 0, 0, 1, 10, 0, 0, 2};
	for (int i = 28; i < 100; i++)
		pkt[i] = (uint8_t)i;
	put16(pkt + 20, 1000);
	put16(pkt + 22, 2000);
	put16(pkt + 24, 80);
	uint16_t ps = um_csum_fold(um_csum_pseudo(pkt + 12, pkt + 16, 4, 17, 80));
	memcpy(pkt + 26, &ps, 2);
	struct um_vnet_hdr vh = {.flags = UM_VNET_F_NEEDS_CSUM, .csum_start = 20, .csum_offset = 6};
	CHECK_EQ(um_offload_finish_csum(pkt, sizeof(pkt), &vh), 0);
	uint64_t s = um_csum_pseudo(pkt + 12, pkt + 16, 4, 17, 80);
	CHECK_EQ(um_csum_fold(um_csum_add(s, pkt + 20, 80)), 0xffff);
	vh.csum_start = 99;
	CHECK_EQ(um_offload_finish_csum(pkt, sizeof(pkt), &vh), -UM_EINVAL);
	vh.csum_start = 200;
	CHECK_EQ(um_offload_finish_csum(pkt, sizeof(pkt), &vh), -UM_EINVAL);
	vh.flags = 0;
	CHECK_EQ(um_offload_finish_csum(pkt, sizeof(pkt), &vh), 0);
}

static void test_parse_rejects(void)
{
	static uint8_t pkt[3000];
	size_t len = make_super(pkt, false, 2000, 0x10, 1);
	struct um_vnet_hdr vh = {.gso_type = UM_VNET_GSO_TCPV4, .gso_size = 1000};
	struct um_tso_info info;
	CHECK_EQ(um_tso_parse(pkt, len, &vh, &info), 0);
	CHECK_EQ(um_tso_parse(pkt, len - 1, &vh, &info), -UM_EINVAL); /* tot_len mismatch */
	vh.gso_size = 0;
	CHECK_EQ(um_tso_parse(pkt, len, &vh, &info), -UM_EINVAL);
	vh.gso_size = 1000;
	vh.gso_type = UM_VNET_GSO_TCPV6;
	CHECK_EQ(um_tso_parse(pkt, len, &vh, &info), -UM_EINVAL);
	vh.gso_type = UM_VNET_GSO_UDP_L4;
	CHECK_EQ(um_tso_parse(pkt, len, &vh, &info), -UM_EINVAL);
	vh.gso_type = UM_VNET_GSO_TCPV4;
	pkt[6] |= 0x20; /* MF */
	CHECK_EQ(um_tso_parse(pkt, len, &vh, &info), -UM_EINVAL);
	pkt[6] &= (uint8_t)~0x20;
	pkt[32] = 0xf0; /* doff 60: still fits */
	CHECK_EQ(um_tso_parse(pkt, len, &vh, &info), 0);
	pkt[32] = 0x40; /* doff 16 < 20 */
	CHECK_EQ(um_tso_parse(pkt, len, &vh, &info), -UM_EINVAL);
}

static void test_gro_rules(void)
{
	static uint8_t a[8][2000];
	static struct sink sink;
	struct um_gro gro;
	size_t len[8];
	/* Two interleaved flows, three segments each. */
	for (int i = 0; i < 6; i++) {
		len[i] = make_super(a[i], false, 1000, 0x10, (uint32_t)(1000 * (i / 2)));
		if (i & 1)
			put16(a[i] + 20, 40001); /* other source port */
		uint16_t ps = um_csum_fold(um_csum_pseudo(a[i] + 12, a[i] + 16, 4, 6, 1032));
		memcpy(a[i] + 36, &ps, 2);
	}
	memset(&sink, 0, sizeof(sink));
	um_gro_init(&gro, collect, &sink);
	for (int i = 0; i < 6; i++)
		um_gro_add(&gro, a[i], len[i], false);
	um_gro_flush(&gro);
	CHECK_EQ(sink.count, 2);
	CHECK_EQ(sink.len[0], UM_VNET_HDR_LEN + 52 + 3000);
	CHECK_EQ(sink.len[1], UM_VNET_HDR_LEN + 52 + 3000);

	/* A gap in sequence numbers, then a different ack: three packets out. */
	len[0] = make_super(a[0], false, 1000, 0x10, 0);
	len[1] = make_super(a[1], false, 1000, 0x10, 2000);
	len[2] = make_super(a[2], false, 1000, 0x10, 3000);
	a[2][20 + 11] = 10;
	memset(&sink, 0, sizeof(sink));
	um_gro_init(&gro, collect, &sink);
	for (int i = 0; i < 3; i++)
		um_gro_add(&gro, a[i], len[i], false);
	um_gro_flush(&gro);
	CHECK_EQ(sink.count, 3);
	struct um_vnet_hdr vh;
	um_vnet_hdr_decode(sink.out[0], &vh);
	CHECK_EQ(vh.gso_type, UM_VNET_GSO_NONE);
	CHECK_EQ(vh.flags, UM_VNET_F_DATA_VALID);

	/* A shorter segment closes the flow; PSH closes it too. */
	len[0] = make_super(a[0], false, 1000, 0x10, 0);
	len[1] = make_super(a[1], false, 500, 0x10, 1000);
	len[2] = make_super(a[2], false, 1000, 0x10, 1500);
	len[3] = make_super(a[3], false, 1000, 0x18, 2500);
	len[4] = make_super(a[4], false, 1000, 0x10, 3500);
	memset(&sink, 0, sizeof(sink));
	um_gro_init(&gro, collect, &sink);
	for (int i = 0; i < 5; i++)
		um_gro_add(&gro, a[i], len[i], false);
	um_gro_flush(&gro);
	CHECK_EQ(sink.count, 3); /* [0,1] [2,3 PSH] [4] */
	CHECK_EQ(sink.len[0], UM_VNET_HDR_LEN + 52 + 1500);
	CHECK_EQ(sink.len[1], UM_VNET_HDR_LEN + 52 + 2000);
	CHECK_EQ(sink.out[1][UM_VNET_HDR_LEN + 33] & 0x08, 0x08);

	/* Non-TCP and pure ACKs pass through immediately. */
	memset(&sink, 0, sizeof(sink));
	um_gro_init(&gro, collect, &sink);
	len[0] = make_super(a[0], false, 0, 0x10, 0);
	um_gro_add(&gro, a[0], len[0], false);
	CHECK_EQ(sink.count, 1);
	a[1][0] = 0x45;
	a[1][9] = 17;
	put16(a[1] + 2, 60);
	um_gro_add(&gro, a[1], 60, false);
	CHECK_EQ(sink.count, 2);
	um_gro_add(&gro, a[1], 3, false); /* runt */
	CHECK_EQ(sink.count, 3);
}

int main(void)
{
	RUN(test_checksum_known);
	RUN(test_split_coalesce_roundtrip);
	RUN(test_partial_roundtrip);
	RUN(test_finish_csum);
	RUN(test_parse_rejects);
	RUN(test_gro_rules);
	return um_test_end();
}
