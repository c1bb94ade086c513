/* SPDX-License-Identifier: MIT */
/* Offload parsers on arbitrary bytes: input = 10-byte vnet header + packet.
 * Checksum completion, TSO parse/split (all chunks) and GRO coalescing of the
 * resulting segments and of the raw packet. Must never crash; every output
 * length is bounded and the split preserves the payload size. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "net/offload.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define CHUNK 8

static int check_emit(const struct iovec *iov, int iovcnt, void *arg)
{
	(void)arg;
	size_t total = 0;
	if (iovcnt < 2 || iovcnt > (int)UM_OFFLOAD_MAX_SEGS + 1 || iov[0].iov_len != UM_VNET_HDR_LEN)
		abort();
	for (int i = 0; i < iovcnt; i++)
		total += iov[i].iov_len;
	if (total > UM_VNET_HDR_LEN + UM_OFFLOAD_MAX_PACKET + 40)
		abort();
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static uint8_t pkt[UM_OFFLOAD_MAX_PACKET + 64];
	static uint8_t out[CHUNK * (UM_OFFLOAD_MAX_PACKET + 64)];
	if (size < UM_VNET_HDR_LEN || size - UM_VNET_HDR_LEN > UM_OFFLOAD_MAX_PACKET)
		return 0;
	struct um_vnet_hdr vh;
	um_vnet_hdr_decode(data, &vh);
	size_t len = size - UM_VNET_HDR_LEN;
	memcpy(pkt, data + UM_VNET_HDR_LEN, len);
	(void)um_offload_finish_csum(pkt, len, &vh);

	struct um_gro gro;
	um_gro_init(&gro, check_emit, NULL);
	struct um_tso_info info;
	if (um_tso_parse(pkt, len, &vh, &info) == 0) {
		if (info.hdr_len > len || info.segments == 0 || info.mss == 0)
			abort();
		size_t stride = info.hdr_len + info.mss, payload = 0;
		/* Bound the work on tiny MSS values. */
		size_t limit = info.segments < 256 ? info.segments : 256;
		for (size_t first = 0; first < limit; first += CHUNK) {
			size_t seg_len[CHUNK];
			size_t n = um_tso_split(pkt, &info, first, CHUNK, out, stride, seg_len);
			if (n == 0 || n > CHUNK)
				abort();
			for (size_t k = 0; k < n; k++) {
				if (seg_len[k] > stride || seg_len[k] < info.hdr_len)
					abort();
				payload += seg_len[k] - info.hdr_len;
				(void)um_gro_add(&gro, out + k * stride, seg_len[k], (first & 1) != 0);
			}
			(void)um_gro_flush(&gro); /* before `out` is reused */
		}
		if (limit == info.segments && payload != info.payload_len)
			abort();
	}
	(void)um_gro_add(&gro, pkt, len, (vh.flags & 1) != 0);
	(void)um_gro_flush(&gro);
	/* The same bytes as an Ethernet frame (TAP): IP after 14 bytes. */
	if (len >= 14) {
		memcpy(pkt, data + UM_VNET_HDR_LEN, len);
		(void)um_gro_add_frame(&gro, pkt, len, 14, (vh.flags & 2) != 0);
		(void)um_gro_flush(&gro);
	}
	return 0;
}
