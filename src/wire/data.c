/* SPDX-License-Identifier: MIT */
#include "wire/data.h"

#include "util/buf.h"
#include "util/error.h"

void um_data_header_encode(uint8_t out[UM_DATA_HEADER_LEN], const struct um_data_header *hdr)
{
	struct um_writer w;
	um_writer_init(&w, out, UM_DATA_HEADER_LEN);
	um_write_u8(&w, UM_MSG_DATA);
	um_write_u8(&w, hdr->flags);
	um_write_u16(&w, 0);
	um_write_u32(&w, hdr->receiver_index);
	um_write_u64(&w, hdr->counter);
}

int um_data_header_decode(const uint8_t *msg, size_t len, struct um_data_header *hdr)
{
	struct um_reader r;
	if (len < UM_DATA_OVERHEAD)
		return -UM_ETRUNC;
	um_reader_init(&r, msg, len);
	uint8_t type = um_read_u8(&r);
	hdr->flags = um_read_u8(&r);
	uint16_t reserved = um_read_u16(&r);
	hdr->receiver_index = um_read_u32(&r);
	hdr->counter = um_read_u64(&r);
	if (um_reader_error(&r))
		return -UM_ETRUNC;
	if (type != UM_MSG_DATA || reserved != 0 || (hdr->flags & ~UM_DATA_FLAGS_KNOWN) != 0)
		return -UM_EINVAL;
	if ((size_t)(hdr->flags & UM_DATA_PAD_MASK) > len - UM_DATA_OVERHEAD)
		return -UM_EINVAL;
	return 0;
}
