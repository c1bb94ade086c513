/* SPDX-License-Identifier: MIT */
/* DHT message codec (layout in wire/dht.h). One encoder and one decoder
 * for all eight types, so a new field is added in exactly two places. */
#include "wire/dht.h"

#include <string.h>

#include "util/buf.h"
#include "util/error.h"

bool um_dht_msg_is_request(uint8_t type)
{
	return type == UM_DHT_TYPE_PING || type == UM_DHT_TYPE_FIND_NODE || type == UM_DHT_TYPE_FIND_VALUE ||
	       type == UM_DHT_TYPE_STORE;
}

unsigned um_dht_piece_count(size_t total_len)
{
	if (total_len == 0)
		return 1;
	return (unsigned)((total_len + UM_DHT_PIECE_DATA - 1) / UM_DHT_PIECE_DATA);
}

size_t um_dht_piece_len(unsigned total_len, unsigned piece)
{
	size_t off = (size_t)piece * UM_DHT_PIECE_DATA;
	if (off >= total_len)
		return 0;
	size_t left = total_len - off;
	return left < UM_DHT_PIECE_DATA ? left : UM_DHT_PIECE_DATA;
}

/* The geometry every piece must have: the count matches the total, and the
 * piece carries exactly its share. */
static bool piece_geometry_ok(unsigned total_len, unsigned piece, unsigned n_pieces, size_t data_len)
{
	if (total_len > UM_DHT_TOTAL_MAX || n_pieces == 0 || n_pieces > UM_DHT_MAX_PIECES || piece >= n_pieces)
		return false;
	if (n_pieces != um_dht_piece_count(total_len))
		return false;
	return data_len == um_dht_piece_len(total_len, piece);
}

static bool type_known(uint8_t type)
{
	return type >= UM_DHT_TYPE_PING && type <= UM_DHT_TYPE_PIECE;
}

/* Types whose body may be followed by zero padding. */
static bool type_padded(uint8_t type)
{
	return type == UM_DHT_TYPE_PING || type == UM_DHT_TYPE_FIND_NODE || type == UM_DHT_TYPE_FIND_VALUE;
}

int um_dht_msg_encode(const struct um_dht_msg *m, uint8_t *out, size_t cap, size_t pad_to)
{
	struct um_writer w;

	if (!type_known(m->type) || (m->flags & ~UM_DHT_FLAGS_ALL))
		return -UM_EINVAL;
	um_writer_init(&w, out, cap);
	um_write_u8(&w, m->type);
	um_write_u8(&w, UM_DHT_VERSION);
	um_write_u8(&w, m->flags);
	um_write_u8(&w, 0);
	um_write_u64(&w, m->txid);
	um_write_bytes(&w, m->sender, 32);
	switch (m->type) {
	case UM_DHT_TYPE_PING:
		if (m->flags & UM_DHT_FLAG_WANT_PROOF)
			um_write_bytes(&w, m->nonce, UM_DHT_NONCE_BYTES);
		break;
	case UM_DHT_TYPE_PONG:
		if (m->observed.family == UM_ADDR_NONE)
			return -UM_EINVAL;
		um_addr_write(&w, &m->observed);
		um_write_bytes(&w, m->cookie, UM_DHT_COOKIE_BYTES);
		break;
	case UM_DHT_TYPE_FIND_NODE:
		um_write_bytes(&w, m->target, 32);
		um_write_bytes(&w, m->cookie, UM_DHT_COOKIE_BYTES);
		break;
	case UM_DHT_TYPE_NODES:
		if (m->n_summaries > UM_DHT_MAX_SUMMARIES || m->n_contacts > UM_DHT_MAX_CONTACTS ||
		    m->n_summaries > m->n_values)
			return -UM_EINVAL;
		um_write_bytes(&w, m->cookie, UM_DHT_COOKIE_BYTES);
		um_write_u8(&w, m->n_values);
		um_write_u16(&w, m->sent);
		um_write_u8(&w, (uint8_t)m->n_summaries);
		for (unsigned i = 0; i < m->n_summaries; i++) {
			um_write_bytes(&w, m->summaries[i].owner, 32);
			um_write_u64(&w, m->summaries[i].sequence);
		}
		um_write_u8(&w, (uint8_t)m->n_contacts);
		for (unsigned i = 0; i < m->n_contacts; i++) {
			if (m->contacts[i].addr.family == UM_ADDR_NONE)
				return -UM_EINVAL;
			um_write_bytes(&w, m->contacts[i].id, 32);
			um_addr_write(&w, &m->contacts[i].addr);
		}
		break;
	case UM_DHT_TYPE_FIND_VALUE:
		um_write_bytes(&w, m->target, 32);
		um_write_bytes(&w, m->cookie, UM_DHT_COOKIE_BYTES);
		um_write_u8(&w, m->value_index);
		um_write_u16(&w, m->want);
		break;
	case UM_DHT_TYPE_STORE:
		if (!piece_geometry_ok(m->total_len, m->piece, m->n_pieces, m->data_len))
			return -UM_EINVAL;
		um_write_bytes(&w, m->target, 32);
		um_write_bytes(&w, m->cookie, UM_DHT_COOKIE_BYTES);
		um_write_u16(&w, m->total_len);
		um_write_u8(&w, m->piece);
		um_write_u8(&w, m->n_pieces);
		um_write_bytes(&w, m->data, m->data_len);
		break;
	case UM_DHT_TYPE_STORE_ACK:
		if (m->status > UM_DHT_STORE_STATUS_MAX)
			return -UM_EINVAL;
		um_write_u8(&w, m->status);
		break;
	case UM_DHT_TYPE_PIECE:
		if (m->kind != UM_DHT_PIECE_VALUE && m->kind != UM_DHT_PIECE_PROOF)
			return -UM_EINVAL;
		if (!piece_geometry_ok(m->total_len, m->piece, m->n_pieces, m->data_len))
			return -UM_EINVAL;
		um_write_u8(&w, m->kind);
		um_write_u8(&w, m->value_index);
		um_write_u8(&w, m->piece);
		um_write_u8(&w, m->n_pieces);
		um_write_u16(&w, m->total_len);
		um_write_bytes(&w, m->data, m->data_len);
		break;
	}
	if (um_writer_error(&w))
		return -UM_ERANGE;
	if (type_padded(m->type) && pad_to > w.pos) {
		size_t n = (pad_to < cap ? pad_to : cap) - w.pos;
		memset(out + w.pos, 0, n);
		w.pos += n;
	}
	return (int)w.pos;
}

int um_dht_msg_decode(struct um_dht_msg *m, const uint8_t *data, size_t len)
{
	struct um_reader r;
	const uint8_t *p;

	memset(m, 0, sizeof(*m));
	um_reader_init(&r, data, len);
	m->type = um_read_u8(&r);
	uint8_t version = um_read_u8(&r);
	m->flags = um_read_u8(&r);
	uint8_t reserved = um_read_u8(&r);
	m->txid = um_read_u64(&r);
	um_read_copy(&r, m->sender, 32);
	if (um_reader_error(&r))
		return -UM_ETRUNC;
	if (!type_known(m->type) || reserved != 0)
		return -UM_EINVAL;
	if (version != UM_DHT_VERSION)
		return -UM_EVERSION;
	uint8_t allowed = m->type == UM_DHT_TYPE_PING   ? UM_DHT_FLAG_WANT_PROOF
			  : m->type == UM_DHT_TYPE_PONG ? UM_DHT_FLAG_PROOF
							: 0;
	if (m->flags & ~allowed)
		return -UM_EINVAL;
	switch (m->type) {
	case UM_DHT_TYPE_PING:
		if (m->flags & UM_DHT_FLAG_WANT_PROOF)
			um_read_copy(&r, m->nonce, UM_DHT_NONCE_BYTES);
		break;
	case UM_DHT_TYPE_PONG:
		if (um_addr_read(&r, &m->observed, false) == -UM_EINVAL)
			return -UM_EINVAL;
		um_read_copy(&r, m->cookie, UM_DHT_COOKIE_BYTES);
		break;
	case UM_DHT_TYPE_FIND_NODE:
		um_read_copy(&r, m->target, 32);
		um_read_copy(&r, m->cookie, UM_DHT_COOKIE_BYTES);
		break;
	case UM_DHT_TYPE_NODES:
		um_read_copy(&r, m->cookie, UM_DHT_COOKIE_BYTES);
		m->n_values = um_read_u8(&r);
		m->sent = um_read_u16(&r);
		m->n_summaries = um_read_u8(&r);
		if (m->n_summaries > UM_DHT_MAX_SUMMARIES || m->n_summaries > m->n_values)
			return um_reader_error(&r) ? -UM_ETRUNC : -UM_EINVAL;
		for (unsigned i = 0; i < m->n_summaries; i++) {
			um_read_copy(&r, m->summaries[i].owner, 32);
			m->summaries[i].sequence = um_read_u64(&r);
		}
		m->n_contacts = um_read_u8(&r);
		if (m->n_contacts > UM_DHT_MAX_CONTACTS)
			return um_reader_error(&r) ? -UM_ETRUNC : -UM_EINVAL;
		for (unsigned i = 0; i < m->n_contacts; i++) {
			um_read_copy(&r, m->contacts[i].id, 32);
			int ret = um_addr_read(&r, &m->contacts[i].addr, false);
			if (ret)
				return ret;
		}
		break;
	case UM_DHT_TYPE_FIND_VALUE:
		um_read_copy(&r, m->target, 32);
		um_read_copy(&r, m->cookie, UM_DHT_COOKIE_BYTES);
		m->value_index = um_read_u8(&r);
		m->want = um_read_u16(&r);
		break;
	case UM_DHT_TYPE_STORE:
	case UM_DHT_TYPE_PIECE:
		if (m->type == UM_DHT_TYPE_STORE) {
			um_read_copy(&r, m->target, 32);
			um_read_copy(&r, m->cookie, UM_DHT_COOKIE_BYTES);
			m->total_len = um_read_u16(&r);
			m->piece = um_read_u8(&r);
			m->n_pieces = um_read_u8(&r);
		} else {
			m->kind = um_read_u8(&r);
			m->value_index = um_read_u8(&r);
			m->piece = um_read_u8(&r);
			m->n_pieces = um_read_u8(&r);
			m->total_len = um_read_u16(&r);
		}
		if (um_reader_error(&r))
			return -UM_ETRUNC;
		if (m->type == UM_DHT_TYPE_PIECE && m->kind != UM_DHT_PIECE_VALUE && m->kind != UM_DHT_PIECE_PROOF)
			return -UM_EINVAL;
		m->data_len = um_reader_left(&r);
		m->data = um_read_bytes(&r, m->data_len);
		if (!piece_geometry_ok(m->total_len, m->piece, m->n_pieces, m->data_len))
			return -UM_EINVAL;
		break;
	case UM_DHT_TYPE_STORE_ACK:
		m->status = um_read_u8(&r);
		if (!um_reader_error(&r) && m->status > UM_DHT_STORE_STATUS_MAX)
			return -UM_EINVAL;
		break;
	}
	if (um_reader_error(&r))
		return -UM_ETRUNC;
	m->padding = um_reader_left(&r);
	if (m->padding && !type_padded(m->type))
		return -UM_EINVAL;
	p = um_read_bytes(&r, m->padding);
	for (size_t i = 0; i < m->padding; i++)
		if (p[i])
			return -UM_EINVAL;
	return 0;
}
