/* SPDX-License-Identifier: MIT */
/* DHT message codec (wire/dht.h): every type round-trips field for field
 * and byte for byte; every truncation, a wrong version, unknown types and
 * flags, a reserved byte, nonzero padding, padding where none is allowed,
 * counts and piece geometry out of range are refused. With
 * UM_DHT_SEEDS_DIR set, one encoding of each type is written there as a
 * fuzz seed. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "test.h"
#include "util/error.h"
#include "wire/dht.h"

static uint8_t payload[UM_DHT_TOTAL_MAX];

static void fill(struct um_dht_msg *m, uint8_t type)
{
	memset(m, 0, sizeof(*m));
	m->type = type;
	m->txid = 0x0102030405060708ULL;
	memset(m->sender, 0xa1, 32);
	memset(m->target, 0xb2, 32);
	memset(m->cookie, 0xc3, sizeof(m->cookie));
	memset(m->nonce, 0xd4, sizeof(m->nonce));
	for (size_t i = 0; i < sizeof(payload); i++)
		payload[i] = (uint8_t)(i * 13 + 1);
	switch (type) {
	case UM_DHT_TYPE_PING:
		m->flags = UM_DHT_FLAG_WANT_PROOF;
		break;
	case UM_DHT_TYPE_PONG:
		m->flags = UM_DHT_FLAG_PROOF;
		m->observed =
		    (struct um_addr){.family = UM_ADDR_IPV6, .addr = {0x20, 0x01, 0xd, 0xb8, [15] = 9}, .port = 7};
		break;
	case UM_DHT_TYPE_NODES:
		m->n_values = 3;
		m->sent = 0x5;
		m->n_summaries = 2;
		for (unsigned i = 0; i < 2; i++) {
			memset(m->summaries[i].owner, 0x10 + i, 32);
			m->summaries[i].sequence = 1000 + i;
		}
		m->n_contacts = UM_DHT_MAX_CONTACTS;
		for (unsigned i = 0; i < m->n_contacts; i++) {
			memset(m->contacts[i].id, (int)i, 32);
			m->contacts[i].addr =
			    (struct um_addr){.family = UM_ADDR_IPV4, .addr = {192, 0, 2, (uint8_t)i}, .port = 4000};
		}
		break;
	case UM_DHT_TYPE_FIND_VALUE:
		m->value_index = 2;
		m->want = 0x7f;
		break;
	case UM_DHT_TYPE_STORE:
	case UM_DHT_TYPE_PIECE:
		m->kind = type == UM_DHT_TYPE_PIECE ? UM_DHT_PIECE_VALUE : 0;
		m->value_index = type == UM_DHT_TYPE_PIECE ? 1 : 0;
		m->total_len = 7600;
		m->n_pieces = (uint8_t)um_dht_piece_count(7600);
		m->piece = (uint8_t)(m->n_pieces - 1);
		m->data = payload + (size_t)m->piece * UM_DHT_PIECE_DATA;
		m->data_len = um_dht_piece_len(7600, m->piece);
		break;
	case UM_DHT_TYPE_STORE_ACK:
		m->status = UM_DHT_STORE_STALE;
		break;
	}
}

static void write_seed(uint8_t type, const uint8_t *buf, int n)
{
	const char *dir = getenv("UM_DHT_SEEDS_DIR");
	char path[512];
	if (!dir)
		return;
	snprintf(path, sizeof(path), "%s/type_%02x", dir, type);
	FILE *f = fopen(path, "wb");
	if (f) {
		fwrite(buf, 1, (size_t)n, f);
		fclose(f);
	}
}

static void test_round_trips(void)
{
	for (uint8_t type = UM_DHT_TYPE_PING; type <= UM_DHT_TYPE_PIECE; type++) {
		struct um_dht_msg m, d;
		uint8_t buf[UM_DHT_WIRE_MAX], again[UM_DHT_WIRE_MAX];
		fill(&m, type);
		int n = um_dht_msg_encode(&m, buf, sizeof(buf), 0);
		CHECK(n > 0 && n <= UM_DHT_WIRE_MAX);
		write_seed(type, buf, n);
		CHECK_EQ(um_dht_msg_decode(&d, buf, (size_t)n), 0);
		CHECK_EQ(d.type, type);
		CHECK_EQ(d.flags, m.flags);
		CHECK(d.txid == m.txid);
		CHECK_MEM(d.sender, m.sender, 32);
		CHECK_EQ(d.padding, 0);
		/* Byte for byte: the decoded form encodes to the same bytes. */
		CHECK_EQ(um_dht_msg_encode(&d, again, sizeof(again), 0), n);
		CHECK_MEM(again, buf, (size_t)n);
		/* Every truncation is refused. */
		for (int cut = 0; cut < n; cut++) {
			int r = um_dht_msg_decode(&d, buf, (size_t)cut);
			CHECK(r == -UM_ETRUNC || r == -UM_EINVAL);
		}
		/* Version and reserved byte. */
		buf[1] = 2;
		CHECK_EQ(um_dht_msg_decode(&d, buf, (size_t)n), -UM_EVERSION);
		buf[1] = UM_DHT_VERSION;
		buf[3] = 1;
		CHECK_EQ(um_dht_msg_decode(&d, buf, (size_t)n), -UM_EINVAL);
		buf[3] = 0;
		buf[2] = 0x80;
		CHECK_EQ(um_dht_msg_decode(&d, buf, (size_t)n), -UM_EINVAL);
	}
	/* Field checks per type. */
	struct um_dht_msg m, d;
	uint8_t buf[UM_DHT_WIRE_MAX];
	fill(&m, UM_DHT_TYPE_NODES);
	CHECK_EQ(um_dht_msg_decode(&d, buf, (size_t)um_dht_msg_encode(&m, buf, sizeof(buf), 0)), 0);
	CHECK_EQ(d.n_contacts, UM_DHT_MAX_CONTACTS);
	CHECK_EQ(d.n_values, 3);
	CHECK_EQ(d.sent, 5);
	CHECK(d.summaries[1].sequence == 1001);
	CHECK(um_addr_equal(&d.contacts[7].addr, &m.contacts[7].addr));
	fill(&m, UM_DHT_TYPE_PONG);
	CHECK_EQ(um_dht_msg_decode(&d, buf, (size_t)um_dht_msg_encode(&m, buf, sizeof(buf), 0)), 0);
	CHECK(um_addr_equal(&d.observed, &m.observed));
	CHECK_MEM(d.cookie, m.cookie, 16);
	fill(&m, UM_DHT_TYPE_STORE);
	CHECK_EQ(um_dht_msg_decode(&d, buf, (size_t)um_dht_msg_encode(&m, buf, sizeof(buf), 0)), 0);
	CHECK_EQ(d.total_len, 7600);
	CHECK_EQ(d.data_len, m.data_len);
	CHECK_MEM(d.data, m.data, m.data_len);
	CHECK_MEM(d.target, m.target, 32);
}

static void test_padding(void)
{
	struct um_dht_msg m, d;
	uint8_t buf[UM_DHT_WIRE_MAX];
	fill(&m, UM_DHT_TYPE_FIND_VALUE);
	int n = um_dht_msg_encode(&m, buf, sizeof(buf), 1280);
	CHECK_EQ(n, 1280);
	CHECK_EQ(um_dht_msg_decode(&d, buf, (size_t)n), 0);
	CHECK_EQ(d.padding, 1280 - (UM_DHT_HEADER_BYTES + 32 + 16 + 3));
	buf[1000] = 1;
	CHECK_EQ(um_dht_msg_decode(&d, buf, (size_t)n), -UM_EINVAL);
	/* Replies carry no padding. */
	fill(&m, UM_DHT_TYPE_STORE_ACK);
	n = um_dht_msg_encode(&m, buf, sizeof(buf), 100);
	CHECK_EQ(n, UM_DHT_HEADER_BYTES + 1);
	buf[n] = 0;
	CHECK_EQ(um_dht_msg_decode(&d, buf, (size_t)n + 1), -UM_EINVAL);
}

static void test_rejections(void)
{
	struct um_dht_msg m, d;
	uint8_t buf[UM_DHT_WIRE_MAX];
	int n;
	/* Unknown types around the range. */
	fill(&m, UM_DHT_TYPE_PING);
	n = um_dht_msg_encode(&m, buf, sizeof(buf), 0);
	buf[0] = 0x38;
	CHECK_EQ(um_dht_msg_decode(&d, buf, (size_t)n), -UM_EINVAL);
	buf[0] = 0x2f;
	CHECK_EQ(um_dht_msg_decode(&d, buf, (size_t)n), -UM_EINVAL);
	/* A flag another type owns. */
	buf[0] = UM_DHT_TYPE_PING;
	buf[2] = UM_DHT_FLAG_PROOF;
	CHECK_EQ(um_dht_msg_decode(&d, buf, (size_t)n), -UM_EINVAL);
	/* Too many contacts / summaries, summaries beyond n_values. */
	fill(&m, UM_DHT_TYPE_NODES);
	m.n_contacts = UM_DHT_MAX_CONTACTS + 1;
	CHECK_EQ(um_dht_msg_encode(&m, buf, sizeof(buf), 0), -UM_EINVAL);
	fill(&m, UM_DHT_TYPE_NODES);
	m.n_contacts = 1;
	n = um_dht_msg_encode(&m, buf, sizeof(buf), 0);
	size_t off = UM_DHT_HEADER_BYTES + 16 + 1 + 2;
	buf[off] = 5;
	CHECK_EQ(um_dht_msg_decode(&d, buf, (size_t)n), -UM_EINVAL);
	buf[off] = 2;
	buf[off - 3] = 1; /* n_values 1 < n_summaries 2 */
	CHECK_EQ(um_dht_msg_decode(&d, buf, (size_t)n), -UM_EINVAL);
	/* An unset contact address. */
	fill(&m, UM_DHT_TYPE_NODES);
	m.n_contacts = 1;
	m.contacts[0].addr.family = UM_ADDR_NONE;
	CHECK_EQ(um_dht_msg_encode(&m, buf, sizeof(buf), 0), -UM_EINVAL);
	/* Piece geometry: wrong count, index beyond, short data, total too big. */
	fill(&m, UM_DHT_TYPE_PIECE);
	m.n_pieces++;
	CHECK_EQ(um_dht_msg_encode(&m, buf, sizeof(buf), 0), -UM_EINVAL);
	fill(&m, UM_DHT_TYPE_PIECE);
	m.piece = m.n_pieces;
	CHECK_EQ(um_dht_msg_encode(&m, buf, sizeof(buf), 0), -UM_EINVAL);
	fill(&m, UM_DHT_TYPE_PIECE);
	m.piece = 0;
	m.data_len = 10;
	CHECK_EQ(um_dht_msg_encode(&m, buf, sizeof(buf), 0), -UM_EINVAL);
	fill(&m, UM_DHT_TYPE_PIECE);
	n = um_dht_msg_encode(&m, buf, sizeof(buf), 0);
	CHECK_EQ(um_dht_msg_decode(&d, buf, (size_t)n - 1), -UM_EINVAL);
	buf[UM_DHT_HEADER_BYTES + 4] = 0x40; /* total 16,384+ */
	CHECK_EQ(um_dht_msg_decode(&d, buf, (size_t)n), -UM_EINVAL);
	fill(&m, UM_DHT_TYPE_PIECE);
	m.kind = 9;
	CHECK_EQ(um_dht_msg_encode(&m, buf, sizeof(buf), 0), -UM_EINVAL);
	fill(&m, UM_DHT_TYPE_STORE_ACK);
	n = um_dht_msg_encode(&m, buf, sizeof(buf), 0);
	buf[n - 1] = UM_DHT_STORE_STATUS_MAX + 1;
	CHECK_EQ(um_dht_msg_decode(&d, buf, (size_t)n), -UM_EINVAL);
	/* Every piece of the largest value fits the datagram limit. */
	fill(&m, UM_DHT_TYPE_STORE);
	m.total_len = UM_DHT_TOTAL_MAX;
	m.n_pieces = (uint8_t)um_dht_piece_count(UM_DHT_TOTAL_MAX);
	for (unsigned p = 0; p < m.n_pieces; p++) {
		m.piece = (uint8_t)p;
		m.data = payload + (size_t)p * UM_DHT_PIECE_DATA;
		m.data_len = um_dht_piece_len(UM_DHT_TOTAL_MAX, p);
		n = um_dht_msg_encode(&m, buf, sizeof(buf), 0);
		CHECK(n > 0 && n <= UM_DHT_WIRE_MAX);
	}
	CHECK_EQ(um_dht_piece_count(UM_DHT_TOTAL_MAX), 7);
}

int main(void)
{
	RUN(test_round_trips);
	RUN(test_padding);
	RUN(test_rejections);
	return um_test_end();
}
