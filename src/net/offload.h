/* SPDX-License-Identifier: MIT */
/* virtio_net_hdr offloads between a TUN device and the data plane:
 *  - finishing a CHECKSUM_PARTIAL packet read from the TUN,
 *  - splitting a TSO super-packet (GSO_TCPV4/6) into MSS-sized segments, each
 *    with complete, valid IP and TCP headers and checksums,
 *  - coalescing received TCP segments of one flow into a super-packet that is
 *    written with one writev() carrying a GSO_TCPV4/6 header (no copy: the
 *    iovecs point at the segments).
 * All parsers take untrusted bytes, check bounds and reject on error.
 * Debian 12's linux headers predate TUN_F_USO*, so the constants live here.
 * The vnet header is the legacy 10-byte struct in host byte order. */
#ifndef UM_NET_OFFLOAD_H
#define UM_NET_OFFLOAD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/uio.h>

#define UM_TUN_F_CSUM    0x01
#define UM_TUN_F_TSO4    0x02
#define UM_TUN_F_TSO6    0x04
#define UM_TUN_F_TSO_ECN 0x08
#define UM_TUN_F_UFO     0x10
#define UM_TUN_F_USO4    0x20
#define UM_TUN_F_USO6    0x40

#define UM_VNET_F_NEEDS_CSUM 1
#define UM_VNET_F_DATA_VALID 2
#define UM_VNET_GSO_NONE     0
#define UM_VNET_GSO_TCPV4    1
#define UM_VNET_GSO_UDP      3
#define UM_VNET_GSO_TCPV6    4
#define UM_VNET_GSO_UDP_L4   5
#define UM_VNET_GSO_ECN      0x80

#define UM_VNET_HDR_LEN 10
/* Largest packet a TUN read can return after the vnet header. */
#define UM_OFFLOAD_MAX_PACKET 65535u
/* Most segments coalesced into one super-packet (a split has no limit: it
 * works in chunks). */
#define UM_OFFLOAD_MAX_SEGS 64u

struct um_vnet_hdr {
	uint8_t flags;
	uint8_t gso_type;
	uint16_t hdr_len;
	uint16_t gso_size;
	uint16_t csum_start;
	uint16_t csum_offset;
};

void um_vnet_hdr_decode(const uint8_t in[UM_VNET_HDR_LEN], struct um_vnet_hdr *hdr);
void um_vnet_hdr_encode(uint8_t out[UM_VNET_HDR_LEN], const struct um_vnet_hdr *hdr);

/* Internet checksum helpers: accumulate bytes into a 64-bit sum, fold to 16
 * bits. The folded value is in the byte order the bytes were read in, so it
 * can be stored with memcpy. */
uint64_t um_csum_add(uint64_t sum, const void *data, size_t len);
uint16_t um_csum_fold(uint64_t sum);
/* Pseudo-header sum for TCP/UDP over IPv4 (addr_len 4) or IPv6 (16). */
uint64_t um_csum_pseudo(const uint8_t *src, const uint8_t *dst, size_t addr_len, uint8_t proto, uint32_t l4_len);

/* Complete a NEEDS_CSUM packet in place (pitfall 1: sum from csum_start to
 * the end, store ~fold, 0 becomes 0xffff). No-op without the flag.
 * 0 or -UM_EINVAL if csum_start/offset lie outside the packet. */
int um_offload_finish_csum(uint8_t *pkt, size_t len, const struct um_vnet_hdr *hdr);

/* A parsed TCP super-packet. */
struct um_tso_info {
	bool ipv6;
	size_t ip_hdr_len;  /* IPv4 ihl*4 or 40 */
	size_t hdr_len;     /* IP + TCP headers */
	size_t payload_len; /* TCP payload bytes in total */
	size_t mss;         /* payload bytes per segment */
	size_t segments;    /* >= 1 */
};

/* Parse a GSO_TCPV4/6 packet read from the TUN (header lengths come from the
 * packet itself; hdr->hdr_len is ignored). 0, or -UM_EINVAL (not a TSO packet
 * we can split: bad headers, IPv6 extension headers, fragments, too many
 * segments). */
int um_tso_parse(const uint8_t *pkt, size_t len, const struct um_vnet_hdr *hdr, struct um_tso_info *info);

/* Write segments first .. first+count-1 of a parsed super-packet (count is
 * clipped to the segments left): segment first+k goes to out + k * stride,
 * its length to seg_len[k]. stride must be at least hdr_len + mss and out
 * must hold (count-1)*stride + hdr_len + mss bytes. Each segment gets
 * tot_len/payload_len, IPv4 id+i and header checksum, seq advanced, FIN/PSH
 * only on the last, CWR only on the first, and a full TCP checksum
 * (pitfall 2). Returns the number of segments written. */
size_t um_tso_split(const uint8_t *pkt, const struct um_tso_info *info, size_t first, size_t count, uint8_t *out,
		    size_t stride, size_t seg_len[]);

/* Like um_tso_split, but writes only the headers of each segment (hdr_len
 * bytes at out + k * stride) and reports where its payload lies in pkt
 * (payload_off[k], payload_len[k]), so the caller can encrypt straight from
 * the super-packet. The TCP checksum field gets the pseudo-header sum over
 * the segment (CHECKSUM_PARTIAL form: csum_start = ip_hdr_len, offset 16),
 * which the receiver completes or hands to its kernel as NEEDS_CSUM. */
size_t um_tso_split_partial(const uint8_t *pkt, const struct um_tso_info *info, size_t first, size_t count,
			    uint8_t *out, size_t stride, size_t payload_off[], size_t payload_len[]);

/* For a packet whose TCP/UDP checksum field holds the pseudo-header sum:
 * the vnet header that lets the kernel finish it. 0, or -UM_EINVAL unless the
 * packet is IPv4 (no fragment) or IPv6 (no extension header) carrying a
 * complete TCP or UDP header. */
int um_offload_partial_hdr(const uint8_t *pkt, size_t len, struct um_vnet_hdr *hdr);

/* Receive-side coalescing (pitfall 3). Segments stay where they are until
 * um_gro_flush; emit receives iovecs whose first element is the vnet header. */
typedef int (*um_gro_emit_fn)(const struct iovec *iov, int iovcnt, void *arg);

#define UM_GRO_MAX_FLOWS 8

struct um_gro_flow {
	uint8_t *head; /* first segment; its headers are rewritten at flush */
	size_t head_len;
	size_t total_len; /* IP total length so far */
	size_t mss;       /* payload length of the first segment */
	uint32_t next_seq;
	unsigned segments;
	bool ipv6, closed, partial;
	size_t ip_hdr_len, hdr_len, l2_len;
	uint8_t vnet[UM_VNET_HDR_LEN];
	struct iovec iov[UM_OFFLOAD_MAX_SEGS + 1];
};

struct um_gro {
	struct um_gro_flow flows[UM_GRO_MAX_FLOWS];
	unsigned count;
	uint8_t single_vnet[UM_VNET_HDR_LEN];
	um_gro_emit_fn emit;
	void *arg;
	uint64_t emitted_packets, emitted_segments; /* statistics */
};

void um_gro_init(struct um_gro *gro, um_gro_emit_fn emit, void *arg);
/* Offer one complete, authenticated IP packet (pkt stays valid and writable
 * until the next flush). Non-TCP or uncoalescable packets are emitted at once
 * (after flushing their own flow, to keep order within a flow). partial: the
 * L4 checksum field holds only the pseudo-header sum (the packet must then
 * pass um_offload_partial_hdr, else it is dropped with -UM_EINVAL); packets
 * go out with NEEDS_CSUM, complete ones with DATA_VALID. Returns 0, -UM_EINVAL
 * or the first negative value returned by emit. */
int um_gro_add(struct um_gro *gro, uint8_t *pkt, size_t len, bool partial);
/* The same for a link-layer frame (TAP): the IP header starts after l2
 * bytes; segments coalesce only with identical link-layer headers, and the
 * emitted frame keeps the header (csum_start/hdr_len count it). */
int um_gro_add_frame(struct um_gro *gro, uint8_t *frame, size_t len, size_t l2, bool partial);
/* Emit every pending flow. */
int um_gro_flush(struct um_gro *gro);

#endif
