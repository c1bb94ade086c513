/* SPDX-License-Identifier: MIT */
/* um_fragflood: a reassembly flood for the reassembly_flood test (issue 13,
 * review #2 and #7). Every message is built with the library's public
 * codecs (wire/fragment.h, wire/handshake.h, session/cookie.h), so the tool
 * follows the formats as they change.
 *
 *   um_fragflood node  PEER_ID IPV4:PORT RATE SECONDS FIRST_SOURCE COUNT STRIDE
 *   um_fragflood relay PEER_ID IPV4:PORT RATE SECONDS FIRST_SOURCE COUNT STRIDE
 *
 * Sources: COUNT IPv4 addresses from FIRST_SOURCE, STRIDE apart (256 = one
 * per /24), configured on a local interface. RATE first pieces per second
 * in all, spread over the sources.
 *
 * node: each source behaves like a real initiator as far as it must: it
 * sends HELLOs (valid mac1 for PEER_ID, the cookie on them once it holds
 * one), reads the CHALLENGE's first piece to learn the responder's index
 * (a pending state it owns), and sends RESPONSE first pieces for that
 * index, announcing the largest total length the format allows and the
 * exact one in turn, plus CHALLENGE first pieces for random indexes (the
 * node's own initiations). Only first pieces: the memory stays reserved.
 *
 * relay: the same against a relay's registration engine (relay version 3:
 * registration is a handshake with the relay, each of its datagrams behind
 * the one-byte RELAY_HANDSHAKE type): PEER_ID is then the relay's ID, every
 * HELLO that passes the cookie check costs the relay a CHALLENGE (an
 * ML-KEM keygen and a signature, from its verification budget), and the
 * first pieces reserve its reassembly memory.
 *
 * Prints what it sent and received. */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <sodium.h>

#include "crypto/identity.h"
#include "session/cookie.h"
#include "util/addr.h"
#include "util/clock.h"
#include "wire/fragment.h"
#include "wire/handshake.h"
#include "wire/types.h"

enum { MAX_SOURCES = 256 };

struct source {
	int fd;
	struct um_cookie_maker maker;
	uint32_t responder_index; /* from a CHALLENGE; 0 = none yet */
	uint64_t next_hello_ns;
};

struct counts {
	unsigned long long hellos, cookies, challenges, pieces, received, send_errors;
};

/* Relay mode: every datagram travels behind UM_TYPE_RELAY_HANDSHAKE. */
static bool wrap;

static uint8_t junk[UM_FRAG_MAX_MESSAGE];

static int usage(void)
{
	fprintf(stderr, "usage: um_fragflood node|relay PEER_ID IPV4:PORT RATE SECONDS FIRST_SOURCE COUNT STRIDE\n");
	return 2;
}

static void send_to(struct counts *c, int fd, const uint8_t *buf, size_t len, const struct sockaddr_storage *to,
		    int to_len)
{
	uint8_t wrapped[1 + UM_HS_MAX_DATAGRAM];

	if (wrap && len < sizeof(wrapped)) {
		wrapped[0] = UM_TYPE_RELAY_HANDSHAKE;
		memcpy(wrapped + 1, buf, len);
		buf = wrapped;
		len++;
	}
	if (sendto(fd, buf, len, 0, (const struct sockaddr *)to, (socklen_t)to_len) < 0)
		c->send_errors++;
}

/* One first piece of a message of total_len bytes (random contents). */
static void send_first_piece(struct counts *c, int fd, uint8_t msg_type, uint32_t receiver_index, size_t total_len,
			     const struct sockaddr_storage *to, int to_len)
{
	uint8_t out[UM_HS_MAX_DATAGRAM];
	int n =
	    um_fragment_encode(out, sizeof(out), msg_type, receiver_index, randombytes_random(), junk, total_len, 0);

	if (n > 0) {
		send_to(c, fd, out, (size_t)n, to, to_len);
		c->pieces++;
	}
}

static void send_hello(struct counts *c, struct source *s, const struct sockaddr_storage *to, int to_len, uint64_t now)
{
	uint8_t out[UM_HS_HELLO_BYTES], ephemeral[UM_HS_X25519_BYTES], nonce[UM_HS_NONCE_BYTES];
	struct um_hs_hello hello = {.sender_index = randombytes_random(),
				    .ephemeral = ephemeral,
				    .nonce = nonce,
				    .timestamp_ms = um_wall_ms() / 1000 * 1000};

	randombytes_buf(ephemeral, sizeof(ephemeral));
	randombytes_buf(nonce, sizeof(nonce));
	int n = um_hs_hello_encode(out, sizeof(out), &hello);
	if (n < 0)
		return;
	um_cookie_add_macs(&s->maker, out, (size_t)n, now);
	send_to(c, s->fd, out, (size_t)n, to, to_len);
	c->hellos++;
}

/* Replies to a source: cookies are taken, a CHALLENGE's first piece gives
 * the index of the pending state the responder made for us. */
static void drain(struct counts *c, struct source *s, uint64_t now)
{
	static uint8_t buf[65536];
	ssize_t len;

	while ((len = recv(s->fd, buf, sizeof(buf), MSG_DONTWAIT)) > 0) {
		struct um_hs_cookie_reply reply;
		struct um_fragment f;
		c->received++;
		if (wrap) {
			if (len < 2 || buf[0] != UM_TYPE_RELAY_HANDSHAKE)
				continue;
			memmove(buf, buf + 1, (size_t)--len);
		}
		if (buf[0] == UM_TYPE_COOKIE_REPLY && um_hs_cookie_reply_decode(&reply, buf, (size_t)len) == 0 &&
		    um_cookie_reply_consume(&s->maker, &reply, now) == 0) {
			c->cookies++;
		} else if (buf[0] == UM_TYPE_FRAGMENT && um_fragment_decode(&f, buf, (size_t)len) == 0 &&
			   f.msg_type == UM_TYPE_CHALLENGE && f.index == 0 && f.payload_len >= 8) {
			/* CHALLENGE: type | version | 0 0 | sender_index: ours to answer. */
			s->responder_index = (uint32_t)f.payload[4] << 24 | (uint32_t)f.payload[5] << 16 |
					     (uint32_t)f.payload[6] << 8 | f.payload[7];
			c->challenges++;
		}
	}
}

int main(int argc, char **argv)
{
	static struct source sources[MAX_SOURCES];
	struct counts c = {0};
	struct um_peer_id id;
	struct um_addr to_addr;
	struct sockaddr_storage to;
	struct in_addr first;
	int to_len;
	bool relay;

	if (argc != 9 || (strcmp(argv[1], "node") && strcmp(argv[1], "relay")))
		return usage();
	relay = !strcmp(argv[1], "relay");
	wrap = relay;
	long rate = atol(argv[4]), seconds = atol(argv[5]), count = atol(argv[7]), stride = atol(argv[8]);
	if (sodium_init() < 0 || um_peer_id_parse(&id, argv[2]) || um_addr_parse(&to_addr, argv[3]) ||
	    to_addr.family != UM_ADDR_IPV4 || (to_len = um_addr_to_sockaddr(&to_addr, &to)) < 0 ||
	    inet_pton(AF_INET, argv[6], &first) != 1 || rate <= 0 || seconds <= 0 || count <= 0 ||
	    count > MAX_SOURCES || stride <= 0)
		return usage();
	randombytes_buf(junk, sizeof(junk));
	for (long i = 0; i < count; i++) {
		struct sockaddr_in src = {.sin_family = AF_INET};
		src.sin_addr.s_addr = htonl(ntohl(first.s_addr) + (uint32_t)(i * stride));
		sources[i].fd = socket(AF_INET, SOCK_DGRAM, 0);
		if (sources[i].fd < 0 || bind(sources[i].fd, (struct sockaddr *)&src, sizeof(src)))
			return perror("socket/bind"), 1;
		um_cookie_maker_init(&sources[i].maker, &id);
	}

	uint64_t start = um_now_ns(), end = start + (uint64_t)seconds * UM_NSEC_PER_SEC;
	unsigned long long due_done = 0, step = 0;
	while (um_now_ns() < end) {
		uint64_t now = um_now_ns();
		unsigned long long due = (now - start) * (unsigned long long)rate / UM_NSEC_PER_SEC;
		for (long i = 0; i < count; i++)
			drain(&c, &sources[i], now);
		if (due_done >= due) {
			struct timespec ts = {0, 500000};
			nanosleep(&ts, NULL);
			continue;
		}
		for (; due_done < due; due_done++, step++) {
			struct source *s = &sources[step % (unsigned long long)count];
			/* Ten HELLOs a second per source: what its bucket lets through. */
			if (now >= s->next_hello_ns) {
				send_hello(&c, s, &to, to_len, now);
				s->next_hello_ns = now + UM_NSEC_PER_SEC / 10;
			}
			if (s->responder_index && step % 2 == 0)
				send_first_piece(&c, s->fd, UM_TYPE_RESPONSE, s->responder_index,
						 step % 4 ? UM_HS_RESPONSE_BYTES : UM_FRAG_MAX_MESSAGE, &to, to_len);
			else
				send_first_piece(&c, s->fd, UM_TYPE_CHALLENGE, randombytes_random(),
						 UM_FRAG_MAX_MESSAGE, &to, to_len);
		}
	}
	for (long i = 0; i < count; i++) {
		drain(&c, &sources[i], um_now_ns());
		um_cookie_maker_wipe(&sources[i].maker);
		close(sources[i].fd);
	}
	printf("%s: %llu first pieces, %llu hellos, %llu cookies taken, %llu challenges (pending states owned), "
	       "%llu datagrams received, %llu send errors\n",
	       argv[1], c.pieces, c.hellos, c.cookies, c.challenges, c.received, c.send_errors);
	return 0;
}
