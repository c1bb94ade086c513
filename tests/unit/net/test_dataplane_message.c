/* SPDX-License-Identifier: MIT */
/* Message-channel segments through the data plane (DATA flagged
 * UM_DATA_F_MESSAGE): both ways on the direct path and through a relay
 * header, in order, to the control ring and never to the device; the replay
 * window, malformed segments, the send errors; and a data plane without a
 * device (no_device) started by an unprivileged process. */
#include <arpa/inet.h>
#include <grp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "dataplane_fixture.h"
#include "net/offload.h"
#include "session/aead.h"
#include "test.h"
#include "util/error.h"
#include "wire/data.h"

/* A segment of len bytes that names its sequence number and length. */
static void segment(uint8_t *out, size_t len, unsigned seq)
{
	for (size_t i = 0; i < len; i++)
		out[i] = (uint8_t)(seq * 7 + i);
	if (len >= 2) {
		out[0] = (uint8_t)seq;
		out[1] = (uint8_t)(seq >> 8);
	}
}

/* n segments from `from` arrive at `to` in order and intact, as
 * UM_DP_CONTROL_MESSAGE for to's peer; nothing reaches to's device. */
static bool exchange_messages(struct side *from, struct side *to, unsigned n, unsigned seed)
{
	uint8_t seg[UM_DP_MESSAGE_MAX];
	bool ok = true;
	for (unsigned i = 0; i < n; i++) {
		size_t len = 1 + (i * 211 + seed) % UM_DP_MESSAGE_MAX;
		if (i == 0)
			len = UM_DP_MESSAGE_MAX;
		segment(seg, len, i + seed);
		if (um_dataplane_peer_send_message(from->dp, from->peer, seg, len) != 0)
			ok = false;
		if (!wait_control(to, UM_DP_CONTROL_MESSAGE, &msg) || msg.peer != to->peer || msg.len != len ||
		    memcmp(msg.data, seg, len) != 0)
			ok = false;
	}
	CHECK_EQ(read_dev(to->dev[0], got, sizeof(got), 100), -1);
	return ok;
}

static void test_direct(void)
{
	struct um_dp_peer_stats a0 = stats(&A), b0 = stats(&B);

	CHECK(exchange_messages(&A, &B, 40, 3));
	CHECK(exchange_messages(&B, &A, 40, 1000));
	struct um_dp_peer_stats a1 = stats(&A), b1 = stats(&B);
	CHECK_EQ(a1.tx_messages - a0.tx_messages, 40);
	CHECK_EQ(b1.rx_messages - b0.rx_messages, 40);
	CHECK_EQ(b1.tx_messages - b0.tx_messages, 40);
	CHECK_EQ(a1.rx_messages - a0.rx_messages, 40);
	CHECK_EQ(a1.tx_packets - a0.tx_packets, 40); /* counted like packets */
	CHECK_EQ(b1.rx_packets - b0.rx_packets, 40);
	CHECK(b1.rx_bytes - b0.rx_bytes > 40);
	CHECK_EQ(b1.rx_bytes - b0.rx_bytes, a1.tx_bytes - a0.tx_bytes);
	CHECK_EQ(a1.tx_relay_packets, 0);
	CHECK(a1.last_tx_ns > 0 && b1.last_rx_ns > 0);

	/* Packets still flow to the device beside them. */
	size_t len = make_udp(buf, "100.64.0.1", "100.64.0.2", 300, 0x5a);
	send(A.dev[0], buf, len, 0);
	CHECK_EQ(read_dev(B.dev[0], got, sizeof(got), 2000), (ssize_t)len);
	CHECK_EQ(stats(&B).rx_messages, b1.rx_messages);
}

/* Batches: queued for A's worker, sealed there and sent as GSO runs; at B
 * every segment arrives once, in order and intact (sizes vary within and
 * across batches). With no key nothing is queued. */
static void test_batches(void)
{
	enum { BATCHES = 8 };
	static uint8_t segs[UM_DP_MESSAGE_BATCH][UM_DP_MESSAGE_MAX];
	struct iovec iov[UM_DP_MESSAGE_BATCH];
	struct um_dp_peer_stats a0 = stats(&A);
	size_t sent = 99;
	unsigned seq = 0;

	CHECK(um_dataplane_peer_message_room(A.dp, A.peer) >= UM_DP_MESSAGE_BATCH);
	for (unsigned b = 0; b < BATCHES; b++) {
		for (unsigned i = 0; i < UM_DP_MESSAGE_BATCH; i++) {
			/* Mostly full-sized (one GSO run), some shorter ones in between. */
			size_t len = i % 9 == 8 ? 100 + b * 10 + i : UM_DP_MESSAGE_MAX;
			segment(segs[i], len, b * UM_DP_MESSAGE_BATCH + i);
			iov[i] = (struct iovec){.iov_base = segs[i], .iov_len = len};
		}
		CHECK_EQ(um_dataplane_peer_send_messages(A.dp, A.peer, iov, UM_DP_MESSAGE_BATCH, &sent), 0);
		CHECK_EQ(sent, UM_DP_MESSAGE_BATCH);
		for (unsigned i = 0; i < UM_DP_MESSAGE_BATCH; i++, seq++) {
			size_t len = iov[i].iov_len;
			CHECK(wait_control(&B, UM_DP_CONTROL_MESSAGE, &msg));
			CHECK_EQ(msg.peer, B.peer);
			CHECK_EQ(msg.len, len);
			CHECK(msg.len == len && memcmp(msg.data, segs[i], len) == 0);
		}
	}
	struct um_dp_peer_stats a1 = stats(&A);
	CHECK_EQ(a1.tx_messages - a0.tx_messages, BATCHES * UM_DP_MESSAGE_BATCH);
	CHECK_EQ(a1.tx_packets - a0.tx_packets, BATCHES * UM_DP_MESSAGE_BATCH);
	CHECK_EQ(seq, BATCHES * UM_DP_MESSAGE_BATCH);
	CHECK(um_dataplane_peer_message_room(A.dp, A.peer) >= UM_DP_MESSAGE_BATCH); /* the worker took them */

	CHECK_EQ(um_dataplane_peer_send_messages(A.dp, A.peer, iov, UM_DP_MESSAGE_BATCH + 1, &sent), -UM_EINVAL);
	CHECK_EQ(um_dataplane_peer_clear_keys(A.dp, A.peer), 0);
	CHECK_EQ(um_dataplane_peer_send_messages(A.dp, A.peer, iov, 3, &sent), -UM_ENOKEY);
	CHECK_EQ(sent, 0);
	CHECK_EQ(stats(&A).tx_messages, a1.tx_messages);
}

static void test_send_errors(void)
{
	uint8_t seg[UM_DP_MESSAGE_MAX + 1] = {1};

	CHECK_EQ(um_dataplane_peer_send_message(A.dp, A.peer, seg, 0), -UM_EINVAL);
	CHECK_EQ(um_dataplane_peer_send_message(A.dp, A.peer, seg, UM_DP_MESSAGE_MAX + 1), -UM_EINVAL);
	CHECK_EQ(um_dataplane_peer_send_message(A.dp, A.peer + 5, seg, 10), -UM_ENOTFOUND);
	CHECK_EQ(um_dataplane_peer_clear_keys(A.dp, A.peer), 0);
	CHECK_EQ(um_dataplane_peer_send_message(A.dp, A.peer, seg, 10), -UM_ENOKEY);
	CHECK_EQ(um_dataplane_peer_send_keepalive(A.dp, A.peer), -UM_ESTATE); /* unchanged */
	CHECK_EQ(stats(&A).tx_messages, 0);
	CHECK_EQ(read_dev(B.dev[0], got, sizeof(got), 100), -1);
	CHECK_EQ(stats(&B).rx_packets, 0);
}

/* A DATA datagram from A's key (0xa1, B's index 2) with the given flags and
 * plaintext, as a forger who holds the key would build it. */
static size_t forge(uint8_t *out, uint8_t flags, const uint8_t *plain, size_t len, uint64_t counter)
{
	struct um_aead aead;
	uint8_t key[32];
	struct um_data_header hdr = {.flags = flags, .receiver_index = 2, .counter = counter};

	memset(key, 0xa1, sizeof(key));
	um_data_header_encode(out, &hdr);
	memcpy(out + UM_DATA_HEADER_LEN, plain, len);
	CHECK_EQ(um_aead_init(&aead), 0);
	CHECK_EQ(um_aead_seal(&aead, 1, key, counter, out, UM_DATA_HEADER_LEN, out + UM_DATA_HEADER_LEN, len,
			      out + UM_DATA_HEADER_LEN + len),
		 0);
	um_aead_free(&aead);
	return UM_DATA_OVERHEAD + len;
}

/* What the receiver makes of MESSAGE plaintexts it did not get from
 * um_dataplane_peer_send_message: padding stripped, empty and oversized
 * segments dropped as MALFORMED, a replay dropped. */
static void test_receive_checks(void)
{
	int s = socket(AF_INET, SOCK_DGRAM, 0);
	uint8_t plain[UM_DP_MESSAGE_MAX + 16], dgram[1600];
	size_t n;

	CHECK(s >= 0);
	memset(plain, 0x3c, sizeof(plain));
	/* 20 bytes, the last 3 of them padding. */
	n = forge(dgram, UM_DATA_F_MESSAGE | 3, plain, 20, 1ull << 40);
	sendto(s, dgram, n, 0, (struct sockaddr *)&B.addr, sizeof(B.addr));
	CHECK(wait_control(&B, UM_DP_CONTROL_MESSAGE, &msg));
	CHECK_EQ(msg.len, 17);
	CHECK_MEM(msg.data, plain, 17);
	/* The same datagram again: the replay window covers messages. */
	sendto(s, dgram, n, 0, (struct sockaddr *)&B.addr, sizeof(B.addr));
	CHECK(wait_drop(&B, UM_DP_DROP_REPLAY, 1));
	/* Empty and oversized segments. */
	n = forge(dgram, UM_DATA_F_MESSAGE, plain, 0, (1ull << 40) + 1);
	sendto(s, dgram, n, 0, (struct sockaddr *)&B.addr, sizeof(B.addr));
	CHECK(wait_drop(&B, UM_DP_DROP_MALFORMED, 1));
	n = forge(dgram, UM_DATA_F_MESSAGE, plain, UM_DP_MESSAGE_MAX + 1, (1ull << 40) + 2);
	sendto(s, dgram, n, 0, (struct sockaddr *)&B.addr, sizeof(B.addr));
	CHECK(wait_drop(&B, UM_DP_DROP_MALFORMED, 2));
	/* A MESSAGE that holds an IP packet is still not written to the device. */
	n = make_udp(buf, "100.64.0.1", "100.64.0.2", 100, 0x11);
	n = forge(dgram, UM_DATA_F_MESSAGE, buf + UM_VNET_HDR_LEN, n - UM_VNET_HDR_LEN, (1ull << 40) + 3);
	sendto(s, dgram, n, 0, (struct sockaddr *)&B.addr, sizeof(B.addr));
	CHECK(wait_control(&B, UM_DP_CONTROL_MESSAGE, &msg));
	CHECK_EQ(msg.len, 128);
	CHECK_EQ(read_dev(B.dev[0], got, sizeof(got), 100), -1);
	CHECK_EQ(stats(&B).rx_messages, 2);
	close(s);
}

/* FORWARD header: type, three zero bytes, the peer ID. */
static void forward_header(uint8_t out[36], uint8_t type, uint8_t id_fill)
{
	memset(out, 0, 36);
	out[0] = type;
	memset(out + 4, id_fill, 32);
}

/* The test plays the relay between A and B: what one side sends arrives at
 * the relay socket with its FORWARD header, and is handed to the other side
 * rewritten as FORWARDED from the sender. */
static void test_relay(void)
{
	int relay = socket(AF_INET, SOCK_DGRAM, 0);
	struct sockaddr_storage rs = {0};
	struct sockaddr_in *ra = (struct sockaddr_in *)&rs;
	socklen_t rl = sizeof(*ra);
	uint8_t to_b[36], to_a[36], dgram[2048], seg[UM_DP_MESSAGE_MAX];

	ra->sin_family = AF_INET;
	ra->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	CHECK_EQ(bind(relay, (struct sockaddr *)ra, rl), 0);
	getsockname(relay, (struct sockaddr *)ra, &rl);
	forward_header(to_b, 0x23, 0xbb);
	forward_header(to_a, 0x23, 0xaa);
	CHECK_EQ(um_dataplane_peer_message_max(A.dp, A.peer), UM_DP_MESSAGE_MAX); /* direct: 1420 & ~15 */
	CHECK_EQ(um_dataplane_peer_set_relay(A.dp, A.peer, &rs, rl, to_b, 36), 0);
	CHECK_EQ(um_dataplane_peer_set_relay(B.dp, B.peer, &rs, rl, to_a, 36), 0);
	CHECK_EQ(um_dataplane_peer_message_max(A.dp, A.peer), UM_DP_MESSAGE_RELAY_MAX);
	CHECK_EQ(um_dataplane_peer_message_max(A.dp, A.peer + 1000), 0);
	/* A direct path's size does not fit the relay: refused, nothing sent. */
	memset(seg, 0, sizeof(seg));
	CHECK_EQ(um_dataplane_peer_send_message(A.dp, A.peer, seg, UM_DP_MESSAGE_RELAY_MAX + 16), -UM_EINVAL);
	size_t queued = 9;
	CHECK_EQ(um_dataplane_peer_send_messages(
		     A.dp, A.peer, (struct iovec[]){{seg, 100}, {seg, UM_DP_MESSAGE_RELAY_MAX + 16}}, 2, &queued),
		 -UM_EINVAL);
	CHECK_EQ(queued, 0);
	CHECK_EQ(read_dev(relay, dgram, sizeof(dgram), 100), -1);
	struct um_dp_peer_stats a0 = stats(&A), b0 = stats(&B);

	for (int way = 0; way < 2; way++) {
		struct side *from = way ? &B : &A, *to = way ? &A : &B;
		const uint8_t *header = way ? to_a : to_b;
		for (unsigned i = 0; i < 20; i++) {
			size_t len = i == 0 ? UM_DP_MESSAGE_RELAY_MAX : 1 + (i * 97) % UM_DP_MESSAGE_RELAY_MAX;
			segment(seg, len, i + 50u * (unsigned)way);
			CHECK_EQ(um_dataplane_peer_send_message(from->dp, from->peer, seg, len), 0);
			ssize_t d = read_dev(relay, dgram, sizeof(dgram), 2000);
			CHECK_EQ(d, (ssize_t)(36 + UM_DATA_OVERHEAD + len));
			CHECK(d <= UM_DP_RELAY_MAX_DATAGRAM);
			if (d < 36 + UM_DATA_OVERHEAD)
				continue;
			CHECK_MEM(dgram, header, 36);
			CHECK_EQ(dgram[36], UM_MSG_DATA);
			CHECK_EQ(dgram[37], UM_DATA_F_MESSAGE); /* pad off: no padding bits */
			dgram[0] = 0x24;
			memset(dgram + 4, way ? 0xbb : 0xaa, 32); /* the source */
			sendto(relay, dgram, (size_t)d, 0, (struct sockaddr *)&to->addr, sizeof(to->addr));
			CHECK(wait_control(to, UM_DP_CONTROL_MESSAGE, &msg));
			CHECK_EQ(msg.peer, to->peer);
			CHECK_EQ(msg.len, len);
			CHECK_MEM(msg.data, seg, len);
			CHECK_EQ(((struct sockaddr_in *)&msg.from)->sin_port, ra->sin_port); /* from the relay */
			if (i == 0) {
				/* Replayed by the relay: dropped, not delivered twice. */
				uint64_t replays = stats(to).drops[UM_DP_DROP_REPLAY];
				sendto(relay, dgram, (size_t)d, 0, (struct sockaddr *)&to->addr, sizeof(to->addr));
				CHECK(wait_drop(to, UM_DP_DROP_REPLAY, replays + 1));
			}
		}
		CHECK_EQ(read_dev(to->dev[0], got, sizeof(got), 100), -1);
	}
	struct um_dp_peer_stats a1 = stats(&A), b1 = stats(&B);
	CHECK_EQ(a1.tx_relay_packets - a0.tx_relay_packets, 20);
	CHECK_EQ(b1.rx_relay_packets - b0.rx_relay_packets, 20);
	CHECK_EQ(b1.tx_relay_packets - b0.tx_relay_packets, 20);
	CHECK_EQ(a1.rx_relay_packets - a0.rx_relay_packets, 20);
	CHECK_EQ(b1.rx_messages - b0.rx_messages, 20);
	CHECK_EQ(a1.rx_messages - a0.rx_messages, 20);
	CHECK_EQ(read_dev(relay, dgram, sizeof(dgram), 50), -1); /* nothing else went out */
	close(relay);
}

/* ---- no device, no privileges ---- */

struct bare {
	struct um_dataplane *dp;
	uint32_t peer;
	struct sockaddr_in addr;
	int dev[2];
};

static int bare_up(struct bare *b, bool no_device, const struct um_keypair *kp)
{
	struct um_dataplane_config cfg = {.socket_family = AF_INET, .max_peers = 4, .pad = !no_device};
	b->dev[0] = b->dev[1] = -1;
	if (no_device) {
		cfg.no_device = true;
	} else {
		if (socketpair(AF_UNIX, SOCK_DGRAM, 0, b->dev) < 0)
			return -1;
		cfg.use_device_fd = true;
		cfg.device_fd = b->dev[1];
	}
	if (um_dataplane_new(&cfg, &b->dp) < 0 || um_dataplane_peer_add(b->dp, &b->peer) < 0 ||
	    um_dataplane_peer_install_keypair(b->dp, b->peer, kp, false) < 0)
		return -1;
	struct um_addr_prefix p;
	if (um_addr_prefix_parse(&p, "100.64.0.0/24", false) < 0 ||
	    um_dataplane_peer_set_allowed_ips(b->dp, b->peer, &p, 1) < 0)
		return -1;
	memset(&b->addr, 0, sizeof(b->addr));
	b->addr.sin_family = AF_INET;
	b->addr.sin_port = htons(um_dataplane_port(b->dp));
	b->addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	return 0;
}

static bool bare_message(struct bare *b, struct um_dp_control_msg *out)
{
	for (int i = 0; i < 200; i++) {
		while (um_dataplane_recv_control(b->dp, out) == 0)
			if (out->kind == UM_DP_CONTROL_MESSAGE)
				return true;
		usleep(10000);
	}
	return false;
}

static uint64_t bare_drops(struct bare *b, enum um_dp_drop reason, uint64_t want)
{
	struct um_dp_peer_stats st = {0};
	for (int i = 0; i < 200; i++) {
		um_dataplane_peer_stats(b->dp, b->peer, &st);
		if (st.drops[reason] >= want)
			break;
		usleep(10000);
	}
	return st.drops[reason];
}

/* In a child without privileges: a no_device data plane (Y) exchanges
 * messages with one that has a (test) device (X, padding on); the packets X
 * routes to Y are dropped as NO_DEVICE. Returns the failures. */
static int no_device_child(void)
{
	struct bare x, y;
	struct um_keypair kx = keypair(0xc1, 0xd2, 11, 12), ky = keypair(0xd2, 0xc1, 12, 11);
	uint8_t seg[UM_DP_MESSAGE_MAX];
	struct um_dp_control_msg m;
	int failures_before = um_test_failures; /* the parent's, copied by fork */

	if (geteuid() == 0) {
		/* nobody: setuid from root drops every capability. */
		CHECK_EQ(setgroups(0, NULL), 0);
		CHECK_EQ(setgid(65534), 0);
		CHECK_EQ(setuid(65534), 0);
	}
	CHECK(geteuid() != 0);
	/* Not privileged: a real device is refused. */
	struct um_dataplane *tun = NULL;
	struct um_dataplane_config tun_cfg = {.socket_family = AF_INET, .workers = 1};
	CHECK(um_dataplane_new(&tun_cfg, &tun) < 0);
	CHECK(tun == NULL);

	CHECK_EQ(bare_up(&y, true, &ky), 0);
	CHECK_EQ(bare_up(&x, false, &kx), 0);
	if (!x.dp || !y.dp)
		return um_test_failures - failures_before + 1;
	CHECK_EQ(um_dataplane_workers(y.dp), 1);
	CHECK(!strcmp(um_dataplane_ifname(y.dp), ""));
	CHECK_EQ(um_dataplane_peer_set_endpoint(x.dp, x.peer, (struct sockaddr *)&y.addr, sizeof(y.addr)), 0);
	CHECK_EQ(um_dataplane_peer_set_endpoint(y.dp, y.peer, (struct sockaddr *)&x.addr, sizeof(x.addr)), 0);
	CHECK_EQ(um_dataplane_start(x.dp), 0);
	CHECK_EQ(um_dataplane_start(y.dp), 0);

	/* Both ways; X pads (1001 -> 1008 on the wire), Y strips it. */
	segment(seg, 1001, 9);
	CHECK_EQ(um_dataplane_peer_send_message(x.dp, x.peer, seg, 1001), 0);
	CHECK(bare_message(&y, &m));
	CHECK_EQ(m.len, 1001);
	CHECK_MEM(m.data, seg, 1001);
	/* The same through X's worker (sealed from its queue slot, padded
	 * from a separate piece), written in place with reserve/commit. */
	uint8_t *slot[2];
	uint32_t lens[2] = {1001, 1001};
	size_t queued = 0;
	CHECK_EQ(um_dataplane_peer_reserve_messages(x.dp, x.peer, slot, 2), 2);
	segment(slot[0], 1001, 11);
	segment(slot[1], 1001, 12);
	CHECK_EQ(um_dataplane_peer_commit_messages(x.dp, x.peer, lens, 3, &queued), -UM_EINVAL); /* not reserved */
	CHECK_EQ(um_dataplane_peer_commit_messages(x.dp, x.peer, lens, 2, &queued), 0);
	CHECK_EQ(queued, 2);
	for (uint8_t fill = 11; fill <= 12; fill++) {
		CHECK(bare_message(&y, &m));
		CHECK_EQ(m.len, 1001);
		segment(seg, 1001, fill);
		CHECK_MEM(m.data, seg, 1001);
	}
	segment(seg, 300, 10);
	CHECK_EQ(um_dataplane_peer_send_message(y.dp, y.peer, seg, 300), 0);
	CHECK(bare_message(&x, &m));
	CHECK_EQ(m.len, 300);
	CHECK_MEM(m.data, seg, 300);
	CHECK_EQ(read_dev(x.dev[0], got, sizeof(got), 100), -1);

	/* A packet X routes to Y: Y has nowhere to put it. */
	size_t len = make_udp(buf, "100.64.0.1", "100.64.0.2", 200, 0x77);
	CHECK_EQ(send(x.dev[0], buf, len, 0), (ssize_t)len);
	CHECK_EQ(bare_drops(&y, UM_DP_DROP_NO_DEVICE, 1), 1);
	/* A keepalive still counts. */
	CHECK_EQ(um_dataplane_peer_send_keepalive(x.dp, x.peer), 0);
	struct um_dp_peer_stats st;
	for (int i = 0; i < 200; i++) {
		um_dataplane_peer_stats(y.dp, y.peer, &st);
		if (st.rx_packets >= 4)
			break;
		usleep(10000);
	}
	CHECK_EQ(st.rx_packets, 4); /* the three messages and the keepalive */
	CHECK_EQ(st.rx_messages, 3);
	CHECK_EQ(st.tx_messages, 1);
	CHECK_EQ(st.drops[UM_DP_DROP_MALFORMED], 0);
	um_dataplane_free(x.dp);
	um_dataplane_free(y.dp);
	close(x.dev[0]);
	close(x.dev[1]);
	return um_test_failures - failures_before;
}

static void test_no_device_unprivileged(void)
{
	fflush(stderr);
	pid_t pid = fork();
	CHECK(pid >= 0);
	if (pid == 0)
		_exit(no_device_child() ? 1 : 0);
	int status = 0;
	CHECK_EQ(waitpid(pid, &status, 0), pid);
	CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0);
}

int main(void)
{
	RUN_CASE(test_direct);
	RUN_CASE(test_batches);
	RUN_CASE(test_send_errors);
	RUN_CASE(test_receive_checks);
	RUN_CASE(test_relay);
	RUN(test_no_device_unprivileged);
	return um_test_end();
}
