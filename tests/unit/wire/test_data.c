/* SPDX-License-Identifier: MIT */
#include "test.h"
#include "util/error.h"
#include "wire/data.h"

static void test_roundtrip(void)
{
	uint8_t buf[64] = {0};
	struct um_data_header in = {.flags = 3, .receiver_index = 0x01020304, .counter = 0x1122334455667788ull};
	struct um_data_header out;
	um_data_header_encode(buf, &in);
	const uint8_t expect[16] = {0x10, 3, 0, 0, 1, 2, 3, 4, 0x11, 0x22, 0x33, 0x44, 0x55, 0x66, 0x77, 0x88};
	CHECK_MEM(buf, expect, 16);
	CHECK_EQ(um_data_header_decode(buf, 35, &out), 0);
	CHECK_EQ(out.flags, 3);
	CHECK_EQ(out.receiver_index, 0x01020304);
	CHECK(out.counter == in.counter);
}

static void test_rejects(void)
{
	uint8_t buf[64] = {0};
	struct um_data_header h = {.flags = 0, .receiver_index = 1, .counter = 2}, out;
	um_data_header_encode(buf, &h);
	CHECK_EQ(um_data_header_decode(buf, 31, &out), -UM_ETRUNC); /* no room for the tag */
	CHECK_EQ(um_data_header_decode(buf, 0, &out), -UM_ETRUNC);
	CHECK_EQ(um_data_header_decode(buf, 32, &out), 0); /* keepalive */
	buf[0] = 0x01;
	CHECK_EQ(um_data_header_decode(buf, 32, &out), -UM_EINVAL);
	buf[0] = 0x10;
	buf[2] = 1;
	CHECK_EQ(um_data_header_decode(buf, 32, &out), -UM_EINVAL); /* reserved */
	buf[2] = 0;
	buf[1] = 0x40;
	CHECK_EQ(um_data_header_decode(buf, 48, &out), -UM_EINVAL); /* unknown flag */
	/* A channel segment, padded. */
	buf[1] = UM_DATA_F_MESSAGE | 1;
	CHECK_EQ(um_data_header_decode(buf, 48, &out), 0);
	CHECK_EQ(out.flags, UM_DATA_F_MESSAGE | 1);
	buf[1] = 0x80;
	CHECK_EQ(um_data_header_decode(buf, 48, &out), -UM_EINVAL);
	buf[1] = UM_DATA_F_CSUM_PARTIAL | 2;
	CHECK_EQ(um_data_header_decode(buf, 48, &out), 0);
	CHECK_EQ(out.flags & UM_DATA_PAD_MASK, 2);
	buf[1] = 5;
	CHECK_EQ(um_data_header_decode(buf, 36, &out), -UM_EINVAL); /* pad > plaintext */
	CHECK_EQ(um_data_header_decode(buf, 37, &out), 0);
}

int main(void)
{
	RUN(test_roundtrip);
	RUN(test_rejects);
	return um_test_end();
}
