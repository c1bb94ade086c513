/* SPDX-License-Identifier: MIT */
#include "wire/data.h"
#include "util/compiler.h"

#include "util/bytes.h"
#include "util/error.h"

UM_HOT void um_data_header_encode(uint8_t out[UM_DATA_HEADER_LEN], const struct um_data_header *hdr)
{
	/* Fixed offsets, no cursor: this runs once per packet on the data path. */
	out[0] = UM_MSG_DATA;
	out[1] = hdr->flags;
	out[2] = out[3] = 0;
	um_store32_be(out + 4, hdr->receiver_index);
	um_store32_be(out + 8, (uint32_t)(hdr->counter >> 32));
	um_store32_be(out + 12, (uint32_t)hdr->counter);
}

UM_HOT int um_data_header_decode(const uint8_t *msg, size_t len, struct um_data_header *hdr)
{
	if (len < UM_DATA_OVERHEAD)
		return -UM_ETRUNC;
	uint8_t type = msg[0];
	hdr->flags = msg[1];
	uint16_t reserved = um_load16_be(msg + 2);
	hdr->receiver_index = um_load32_be(msg + 4);
	hdr->counter = (uint64_t)um_load32_be(msg + 8) << 32 | um_load32_be(msg + 12);
	if (type != UM_MSG_DATA || reserved != 0 || (hdr->flags & ~UM_DATA_FLAGS_KNOWN) != 0)
		return -UM_EINVAL;
	if ((size_t)(hdr->flags & UM_DATA_PAD_MASK) > len - UM_DATA_OVERHEAD)
		return -UM_EINVAL;
	return 0;
}
