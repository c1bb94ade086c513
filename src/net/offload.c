/* SPDX-License-Identifier: MIT */
#include "net/offload.h"
#include "util/compiler.h"

#include <string.h>

#include "util/bytes.h"
#include "util/error.h"

#define TCP_FIN         0x01
#define TCP_PSH         0x08
#define TCP_ACK         0x10
#define TCP_CWR         0x80
#define IPPROTO_TCP_NUM 6

UM_HOT void um_vnet_hdr_decode(const uint8_t in[UM_VNET_HDR_LEN], struct um_vnet_hdr *hdr)
{
	hdr->flags = in[0];
	hdr->gso_type = in[1];
	memcpy(&hdr->hdr_len, in + 2, 2);
	memcpy(&hdr->gso_size, in + 4, 2);
	memcpy(&hdr->csum_start, in + 6, 2);
	memcpy(&hdr->csum_offset, in + 8, 2);
}

void um_vnet_hdr_encode(uint8_t out[UM_VNET_HDR_LEN], const struct um_vnet_hdr *hdr)
{
	out[0] = hdr->flags;
	out[1] = hdr->gso_type;
	memcpy(out + 2, &hdr->hdr_len, 2);
	memcpy(out + 4, &hdr->gso_size, 2);
	memcpy(out + 6, &hdr->csum_start, 2);
	memcpy(out + 8, &hdr->csum_offset, 2);
}

/* Sums 32-bit words in memory order into 64 bits: since 2^16 == 1 modulo
 * 0xffff, folding gives the one's complement sum of the 16-bit words in the
 * same (memory) order, which is what memcpy stores back. */
UM_HOT uint64_t um_csum_add(uint64_t sum, const void *data, size_t len)
{
	const uint8_t *p = data;
	uint64_t a = 0, b = 0;
	while (len >= 8) {
		uint32_t x, y;
		memcpy(&x, p, 4);
		memcpy(&y, p + 4, 4);
		a += x;
		b += y;
		p += 8;
		len -= 8;
	}
	sum += a + (b & 0xffffffffu) + (b >> 32);
	if (len >= 4) {
		uint32_t x;
		memcpy(&x, p, 4);
		sum += x;
		p += 4;
		len -= 4;
	}
	if (len >= 2) {
		uint16_t x;
		memcpy(&x, p, 2);
		sum += x;
		p += 2;
		len -= 2;
	}
	if (len) {
		uint8_t pad[2] = {p[0], 0};
		uint16_t x;
		memcpy(&x, pad, 2);
		sum += x;
	}
	return sum;
}

UM_HOT uint16_t um_csum_fold(uint64_t sum)
{
	sum = (sum & 0xffffffffu) + (sum >> 32);
	sum = (sum & 0xffffffffu) + (sum >> 32);
	sum = (sum & 0xffff) + (sum >> 16);
	sum = (sum & 0xffff) + (sum >> 16);
	sum = (sum & 0xffff) + (sum >> 16);
	return (uint16_t)sum;
}

UM_HOT uint64_t um_csum_pseudo(const uint8_t *src, const uint8_t *dst, size_t addr_len, uint8_t proto, uint32_t l4_len)
{
	uint8_t tail[8] = {0};
	uint64_t sum = um_csum_add(0, src, addr_len);
	sum = um_csum_add(sum, dst, addr_len);
	um_store32_be(tail, l4_len);
	tail[7] = proto;
	return um_csum_add(sum, tail, sizeof(tail));
}

static void store_csum(uint8_t *at, uint16_t value)
{
	memcpy(at, &value, 2);
}

UM_HOT int um_offload_finish_csum(uint8_t *pkt, size_t len, const struct um_vnet_hdr *hdr)
{
	if (!(hdr->flags & UM_VNET_F_NEEDS_CSUM))
		return 0;
	size_t start = hdr->csum_start, field = (size_t)hdr->csum_start + hdr->csum_offset;
	if (start >= len || field + 2 > len)
		return -UM_EINVAL;
	uint16_t c = (uint16_t)~um_csum_fold(um_csum_add(0, pkt + start, len - start));
	if (c == 0)
		c = 0xffff; /* 0 means "no checksum" for UDP; 0xffff is equivalent */
	store_csum(pkt + field, c);
	return 0;
}

int um_tso_parse(const uint8_t *pkt, size_t len, const struct um_vnet_hdr *hdr, struct um_tso_info *info)
{
	memset(info, 0, sizeof(*info));
	if (len < 40 || len > UM_OFFLOAD_MAX_PACKET)
		return -UM_EINVAL;
	uint8_t type = hdr->gso_type;
	unsigned version = pkt[0] >> 4;
	if (type == UM_VNET_GSO_TCPV4 && version == 4) {
		size_t ihl = (size_t)(pkt[0] & 15) * 4;
		if (ihl < 20 || ihl + 20 > len || pkt[9] != IPPROTO_TCP_NUM)
			return -UM_EINVAL;
		if (um_load16_be(pkt + 2) != len || (um_load16_be(pkt + 6) & 0x3fff) != 0)
			return -UM_EINVAL;
		info->ip_hdr_len = ihl;
	} else if (type == UM_VNET_GSO_TCPV6 && version == 6) {
		if (len < 60 || pkt[6] != IPPROTO_TCP_NUM || (size_t)um_load16_be(pkt + 4) + 40 != len)
			return -UM_EINVAL;
		info->ipv6 = true;
		info->ip_hdr_len = 40;
	} else {
		return -UM_EINVAL;
	}
	size_t doff = (size_t)(pkt[info->ip_hdr_len + 12] >> 4) * 4;
	if (doff < 20 || info->ip_hdr_len + doff > len)
		return -UM_EINVAL;
	if (hdr->gso_size == 0)
		return -UM_EINVAL;
	info->hdr_len = info->ip_hdr_len + doff;
	info->payload_len = len - info->hdr_len;
	info->mss = hdr->gso_size;
	info->segments = info->payload_len ? (info->payload_len + info->mss - 1) / info->mss : 1;
	return 0;
}

/* Rewrites the copied IP and TCP headers of segment i (of total bytes,
 * sequence number seq, IPv4 id id): lengths, the IPv4 header checksum, and
 * the flags that belong only on the first (CWR) or last (FIN, PSH) segment.
 * Returns the TCP header; its checksum is left to the caller. */
static uint8_t *segment_headers(uint8_t *seg, const struct um_tso_info *info, size_t i, size_t total, uint32_t seq,
				uint16_t id, uint8_t flags)
{
	if (info->ipv6) {
		um_store16_be(seg + 4, (uint16_t)(total - 40));
	} else {
		um_store16_be(seg + 2, (uint16_t)total);
		um_store16_be(seg + 4, id);
		seg[10] = seg[11] = 0;
		store_csum(seg + 10, (uint16_t)~um_csum_fold(um_csum_add(0, seg, info->ip_hdr_len)));
	}
	uint8_t *t = seg + info->ip_hdr_len;
	um_store32_be(t + 4, seq);
	if (i + 1 != info->segments)
		flags &= (uint8_t) ~(TCP_FIN | TCP_PSH);
	if (i != 0)
		flags &= (uint8_t)~TCP_CWR;
	t[13] = flags;
	return t;
}

size_t um_tso_split(const uint8_t *pkt, const struct um_tso_info *info, size_t first, size_t count, uint8_t *out,
		    size_t stride, size_t seg_len[])
{
	if (first >= info->segments)
		return 0;
	if (count > info->segments - first)
		count = info->segments - first;
	const uint8_t *tcp = pkt + info->ip_hdr_len;
	size_t addr_len = info->ipv6 ? 16 : 4;
	size_t addr_off = info->ipv6 ? 8 : 12;
	uint32_t seq = um_load32_be(tcp + 4);
	uint16_t id = info->ipv6 ? 0 : um_load16_be(pkt + 4);
	uint8_t flags = tcp[13];
	for (size_t k = 0; k < count; k++) {
		size_t i = first + k;
		size_t off = i * info->mss;
		size_t plen = info->payload_len - off < info->mss ? info->payload_len - off : info->mss;
		if (info->payload_len == 0)
			plen = 0;
		size_t total = info->hdr_len + plen;
		uint8_t *seg = out + k * stride;
		memcpy(seg, pkt, info->hdr_len);
		memcpy(seg + info->hdr_len, pkt + info->hdr_len + off, plen);
		uint8_t *t = segment_headers(seg, info, i, total, seq + (uint32_t)off, (uint16_t)(id + i), flags);
		t[16] = t[17] = 0;
		size_t l4 = total - info->ip_hdr_len;
		uint64_t sum =
		    um_csum_pseudo(seg + addr_off, seg + addr_off + addr_len, addr_len, IPPROTO_TCP_NUM, (uint32_t)l4);
		store_csum(t + 16, (uint16_t)~um_csum_fold(um_csum_add(sum, t, l4)));
		seg_len[k] = total;
	}
	return count;
}

size_t um_tso_split_partial(const uint8_t *pkt, const struct um_tso_info *info, size_t first, size_t count,
			    uint8_t *out, size_t stride, size_t payload_off[], size_t payload_len[])
{
	if (first >= info->segments)
		return 0;
	if (count > info->segments - first)
		count = info->segments - first;
	const uint8_t *tcp = pkt + info->ip_hdr_len;
	size_t addr_len = info->ipv6 ? 16 : 4;
	size_t addr_off = info->ipv6 ? 8 : 12;
	uint32_t seq = um_load32_be(tcp + 4);
	uint16_t id = info->ipv6 ? 0 : um_load16_be(pkt + 4);
	uint8_t flags = tcp[13];
	/* Pseudo-header sum without the length, added per segment. */
	uint64_t base = um_csum_pseudo(pkt + addr_off, pkt + addr_off + addr_len, addr_len, IPPROTO_TCP_NUM, 0);
	for (size_t k = 0; k < count; k++) {
		size_t i = first + k;
		size_t off = i * info->mss;
		size_t plen = info->payload_len - off < info->mss ? info->payload_len - off : info->mss;
		if (info->payload_len == 0)
			plen = 0;
		size_t total = info->hdr_len + plen;
		uint8_t *seg = out + k * stride;
		memcpy(seg, pkt, info->hdr_len);
		uint8_t *t = segment_headers(seg, info, i, total, seq + (uint32_t)off, (uint16_t)(id + i), flags);
		uint8_t l4[4];
		um_store32_be(l4, (uint32_t)(total - info->ip_hdr_len));
		store_csum(t + 16, um_csum_fold(um_csum_add(base, l4, 4)));
		payload_off[k] = info->hdr_len + off;
		payload_len[k] = plen;
	}
	return count;
}

int um_offload_partial_hdr(const uint8_t *pkt, size_t len, struct um_vnet_hdr *hdr)
{
	size_t ip_hdr_len;
	uint8_t proto;
	memset(hdr, 0, sizeof(*hdr));
	if (len < 20)
		return -UM_EINVAL;
	if ((pkt[0] >> 4) == 4) {
		ip_hdr_len = (size_t)(pkt[0] & 15) * 4;
		if (ip_hdr_len < 20 || (um_load16_be(pkt + 6) & 0x3fff) != 0)
			return -UM_EINVAL;
		proto = pkt[9];
	} else if ((pkt[0] >> 4) == 6) {
		ip_hdr_len = 40;
		if (len < 40)
			return -UM_EINVAL;
		proto = pkt[6];
	} else {
		return -UM_EINVAL;
	}
	if (proto == IPPROTO_TCP_NUM && len >= ip_hdr_len + 20)
		hdr->csum_offset = 16;
	else if (proto == 17 && len >= ip_hdr_len + 8)
		hdr->csum_offset = 6;
	else
		return -UM_EINVAL;
	hdr->flags = UM_VNET_F_NEEDS_CSUM;
	hdr->gso_type = UM_VNET_GSO_NONE;
	hdr->csum_start = (uint16_t)ip_hdr_len;
	return 0;
}

/* ---- receive-side coalescing ---- */

void um_gro_init(struct um_gro *gro, um_gro_emit_fn emit, void *arg)
{
	memset(gro, 0, sizeof(*gro));
	gro->emit = emit;
	gro->arg = arg;
	struct um_vnet_hdr single = {.flags = UM_VNET_F_DATA_VALID, .gso_type = UM_VNET_GSO_NONE};
	um_vnet_hdr_encode(gro->single_vnet, &single);
}

/* pkt: the IP header; l2 bytes of link-layer header precede it. */
UM_HOT static int emit_single(struct um_gro *gro, uint8_t *pkt, size_t len, size_t l2, bool partial)
{
	uint8_t vnet[UM_VNET_HDR_LEN];
	struct iovec iov[2] = {{gro->single_vnet, UM_VNET_HDR_LEN}, {pkt - l2, len + l2}};
	if (partial) {
		struct um_vnet_hdr vh;
		if (um_offload_partial_hdr(pkt, len, &vh) < 0)
			return -UM_EINVAL;
		vh.csum_start = (uint16_t)(vh.csum_start + l2);
		um_vnet_hdr_encode(vnet, &vh);
		iov[0].iov_base = vnet;
	}
	gro->emitted_packets++;
	gro->emitted_segments++;
	return gro->emit(iov, 2, gro->arg);
}

UM_HOT static int flush_flow(struct um_gro *gro, struct um_gro_flow *flow)
{
	if (flow->segments == 1)
		return emit_single(gro, flow->head, flow->head_len, flow->l2_len, flow->partial);
	uint8_t *ip = flow->head;
	uint8_t *tcp = ip + flow->ip_hdr_len;
	size_t addr_len = flow->ipv6 ? 16 : 4, addr_off = flow->ipv6 ? 8 : 12;
	if (flow->ipv6) {
		um_store16_be(ip + 4, (uint16_t)(flow->total_len - 40));
	} else {
		um_store16_be(ip + 2, (uint16_t)flow->total_len);
		ip[10] = ip[11] = 0;
		store_csum(ip + 10, (uint16_t)~um_csum_fold(um_csum_add(0, ip, flow->ip_hdr_len)));
	}
	/* CHECKSUM_PARTIAL: the field holds the non-inverted pseudo-header sum. */
	uint64_t sum = um_csum_pseudo(ip + addr_off, ip + addr_off + addr_len, addr_len, IPPROTO_TCP_NUM,
				      (uint32_t)(flow->total_len - flow->ip_hdr_len));
	store_csum(tcp + 16, um_csum_fold(sum));
	struct um_vnet_hdr vh = {
	    .flags = UM_VNET_F_NEEDS_CSUM,
	    .gso_type = flow->ipv6 ? UM_VNET_GSO_TCPV6 : UM_VNET_GSO_TCPV4,
	    .hdr_len = (uint16_t)(flow->l2_len + flow->hdr_len),
	    .gso_size = (uint16_t)flow->mss,
	    .csum_start = (uint16_t)(flow->l2_len + flow->ip_hdr_len),
	    .csum_offset = 16,
	};
	um_vnet_hdr_encode(flow->vnet, &vh);
	flow->iov[0].iov_base = flow->vnet;
	flow->iov[0].iov_len = UM_VNET_HDR_LEN;
	gro->emitted_packets++;
	gro->emitted_segments += flow->segments;
	return gro->emit(flow->iov, (int)flow->segments + 1, gro->arg);
}

static void remove_flow(struct um_gro *gro, unsigned index)
{
	memmove(&gro->flows[index], &gro->flows[index + 1], (gro->count - index - 1) * sizeof(gro->flows[0]));
	gro->count--;
}

/* Same flow: addresses and ports. */
static bool same_flow(const struct um_gro_flow *flow, const uint8_t *pkt, bool ipv6, size_t ip_hdr_len, size_t l2)
{
	const uint8_t *h = flow->head;
	if (flow->ipv6 != ipv6 || flow->ip_hdr_len != ip_hdr_len || flow->l2_len != l2)
		return false;
	if (l2 && memcmp(h - l2, pkt - l2, l2) != 0)
		return false;
	if (ipv6 ? memcmp(h + 8, pkt + 8, 32) : memcmp(h + 12, pkt + 12, 8))
		return false;
	return memcmp(h + ip_hdr_len, pkt + ip_hdr_len, 4) == 0;
}

/* Everything but lengths, ids, checksums, seq and PSH must match. */
static bool headers_match(const struct um_gro_flow *flow, const uint8_t *pkt, size_t hdr_len)
{
	const uint8_t *h = flow->head;
	if (flow->hdr_len != hdr_len)
		return false;
	if (flow->ipv6) {
		if (memcmp(h, pkt, 4) != 0 || h[6] != pkt[6] || h[7] != pkt[7])
			return false;
	} else {
		if (h[1] != pkt[1] || h[6] != pkt[6] || h[7] != pkt[7] || h[8] != pkt[8])
			return false;
	}
	const uint8_t *a = h + flow->ip_hdr_len, *b = pkt + flow->ip_hdr_len;
	if (memcmp(a + 8, b + 8, 5) != 0 || (a[13] & ~TCP_PSH) != (b[13] & ~TCP_PSH))
		return false;
	if (memcmp(a + 14, b + 14, 2) != 0 || memcmp(a + 18, b + 18, hdr_len - flow->ip_hdr_len - 18))
		return false;
	return true;
}

UM_HOT int um_gro_add(struct um_gro *gro, uint8_t *pkt, size_t len, bool partial)
{
	return um_gro_add_frame(gro, pkt, len, 0, partial);
}

UM_HOT int um_gro_add_frame(struct um_gro *gro, uint8_t *frame, size_t len, size_t l2, bool partial)
{
	bool ipv6;
	size_t ip_hdr_len;
	if (l2 > len)
		return -UM_EINVAL;
	uint8_t *pkt = frame + l2;
	len -= l2;
	if (len < 20)
		return emit_single(gro, pkt, len, l2, partial);
	if ((pkt[0] >> 4) == 4) {
		ipv6 = false;
		ip_hdr_len = 20;
		if ((pkt[0] & 15) != 5 || pkt[9] != IPPROTO_TCP_NUM || um_load16_be(pkt + 2) != len ||
		    (um_load16_be(pkt + 6) & 0x3fff) != 0 || len < 40)
			return emit_single(gro, pkt, len, l2, partial);
	} else if ((pkt[0] >> 4) == 6) {
		ipv6 = true;
		ip_hdr_len = 40;
		if (len < 60 || pkt[6] != IPPROTO_TCP_NUM || (size_t)um_load16_be(pkt + 4) + 40 != len)
			return emit_single(gro, pkt, len, l2, partial);
	} else {
		return emit_single(gro, pkt, len, l2, partial);
	}
	const uint8_t *tcp = pkt + ip_hdr_len;
	size_t hdr_len = ip_hdr_len + (size_t)(tcp[12] >> 4) * 4;
	if (hdr_len < ip_hdr_len + 20 || hdr_len > len)
		return emit_single(gro, pkt, len, l2, partial);
	size_t payload = len - hdr_len;
	uint8_t flags = tcp[13];
	bool coalescable = payload > 0 && (flags & ~TCP_PSH) == TCP_ACK;
	uint32_t seq = um_load32_be(tcp + 4);

	for (unsigned i = 0; i < gro->count; i++) {
		struct um_gro_flow *flow = &gro->flows[i];
		if (!same_flow(flow, pkt, ipv6, ip_hdr_len, l2))
			continue;
		if (coalescable && !flow->closed && seq == flow->next_seq && payload <= flow->mss &&
		    flow->segments < UM_OFFLOAD_MAX_SEGS && flow->total_len + payload <= 65535 &&
		    headers_match(flow, pkt, hdr_len)) {
			flow->iov[flow->segments + 1].iov_base = pkt + hdr_len;
			flow->iov[flow->segments + 1].iov_len = payload;
			flow->segments++;
			flow->total_len += payload;
			flow->next_seq += (uint32_t)payload;
			if (flags & TCP_PSH) {
				flow->head[ip_hdr_len + 13] |= TCP_PSH;
				flow->closed = true;
			}
			if (payload < flow->mss)
				flow->closed = true;
			return 0;
		}
		int rc = flush_flow(gro, flow);
		remove_flow(gro, i);
		if (rc < 0)
			return rc;
		break;
	}
	if (!coalescable)
		return emit_single(gro, pkt, len, l2, partial);
	if (gro->count == UM_GRO_MAX_FLOWS) {
		int rc = flush_flow(gro, &gro->flows[0]);
		remove_flow(gro, 0);
		if (rc < 0)
			return rc;
	}
	struct um_gro_flow *flow = &gro->flows[gro->count++];
	flow->head = pkt;
	flow->head_len = len;
	flow->total_len = len;
	flow->mss = payload;
	flow->next_seq = seq + (uint32_t)payload;
	flow->segments = 1;
	flow->ipv6 = ipv6;
	flow->closed = (flags & TCP_PSH) != 0;
	flow->partial = partial;
	flow->ip_hdr_len = ip_hdr_len;
	flow->hdr_len = hdr_len;
	flow->l2_len = l2;
	flow->iov[1].iov_base = frame;
	flow->iov[1].iov_len = len + l2;
	return 0;
}

UM_HOT int um_gro_flush(struct um_gro *gro)
{
	int result = 0;
	for (unsigned i = 0; i < gro->count; i++) {
		int rc = flush_flow(gro, &gro->flows[i]);
		if (rc < 0 && result == 0)
			result = rc;
	}
	gro->count = 0;
	return result;
}
