/* SPDX-License-Identifier: MIT */
/* TAP mode without root (socketpairs stand in for the devices): flooding of
 * broadcast frames, MAC learning, a non-IP ethertype, and a TSO frame split
 * and coalesced with its Ethernet header intact. */
#include <arpa/inet.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include "net/dataplane.h"
#include "net/offload.h"
#include "test.h"
#include "util/clock.h"

struct side {
	struct um_dataplane *dp;
	int dev[2];
	uint32_t peer;
	struct sockaddr_in addr;
};

static struct side A, B;
static uint8_t buf[70000], got[70000];
static const uint8_t mac_a[6] = {0x02, 0, 0, 0, 0, 0xa}, mac_b[6] = {0x02, 0, 0, 0, 0, 0xb};

static void put16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}

static int setup_side(struct side *s)
{
	struct um_dataplane_config cfg = {.socket_family = AF_INET, .max_peers = 4, .tap = true};
	int big = 4 << 20;
	if (socketpair(AF_UNIX, SOCK_DGRAM, 0, s->dev) < 0)
		return -1;
	for (int i = 0; i < 2; i++) {
		setsockopt(s->dev[i], SOL_SOCKET, SO_SNDBUF, &big, sizeof(big));
		setsockopt(s->dev[i], SOL_SOCKET, SO_RCVBUF, &big, sizeof(big));
	}
	cfg.use_device_fd = true;
	cfg.device_fd = s->dev[1];
	if (um_dataplane_new(&cfg, &s->dp) < 0 || um_dataplane_peer_add(s->dp, &s->peer) < 0)
		return -1;
	memset(&s->addr, 0, sizeof(s->addr));
	s->addr.sin_family = AF_INET;
	s->addr.sin_port = htons(um_dataplane_port(s->dp));
	s->addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	return 0;
}

static ssize_t read_dev(int fd, uint8_t *out, size_t cap, int timeout_ms)
{
	struct pollfd pfd = {.fd = fd, .events = POLLIN};
	if (poll(&pfd, 1, timeout_ms) <= 0)
		return -1;
	return recv(fd, out, cap, 0);
}

static size_t frame(uint8_t *f, const uint8_t *dst, const uint8_t *src, uint16_t type, size_t body)
{
	memset(f, 0, UM_VNET_HDR_LEN);
	uint8_t *e = f + UM_VNET_HDR_LEN;
	memcpy(e, dst, 6);
	memcpy(e + 6, src, 6);
	put16(e + 12, type);
	for (size_t i = 0; i < body; i++)
		e[14 + i] = (uint8_t)(i * 5 + type);
	return UM_VNET_HDR_LEN + 14 + body;
}

static void test_flood_and_learn(void)
{
	static const uint8_t bcast[6] = {0xff, 0xff, 0xff, 0xff, 0xff, 0xff};
	size_t len = frame(buf, bcast, mac_a, 0x0806, 28); /* ARP-sized */
	CHECK_EQ(send(A.dev[0], buf, len, 0), (ssize_t)len);
	CHECK_EQ(read_dev(B.dev[0], got, sizeof(got), 2000), (ssize_t)len);
	CHECK_MEM(got + UM_VNET_HDR_LEN, buf + UM_VNET_HDR_LEN, len - UM_VNET_HDR_LEN);
	/* B answers to A's (learned) MAC with a non-IP ethertype. */
	len = frame(buf, mac_a, mac_b, 0x88b5, 100);
	CHECK_EQ(send(B.dev[0], buf, len, 0), (ssize_t)len);
	CHECK_EQ(read_dev(A.dev[0], got, sizeof(got), 2000), (ssize_t)len);
	CHECK_MEM(got + UM_VNET_HDR_LEN, buf + UM_VNET_HDR_LEN, len - UM_VNET_HDR_LEN);
}

static void test_tso_frame(void)
{
	size_t payload = 1368 * 15 + 77, ip_total = 52 + payload;
	uint8_t *e = buf + UM_VNET_HDR_LEN;
	memcpy(e, mac_b, 6);
	memcpy(e + 6, mac_a, 6);
	put16(e + 12, 0x0800);
	uint8_t *ip = e + 14;
	memset(ip, 0, 52);
	ip[0] = 0x45;
	put16(ip + 2, (uint16_t)ip_total);
	ip[8] = 64;
	ip[9] = 6;
	inet_pton(AF_INET, "10.9.0.1", ip + 12);
	inet_pton(AF_INET, "10.9.0.2", ip + 16);
	uint16_t c = (uint16_t)~um_csum_fold(um_csum_add(0, ip, 20));
	memcpy(ip + 10, &c, 2);
	put16(ip + 20, 33000);
	put16(ip + 22, 80);
	ip[32] = 8 << 4;
	ip[33] = 0x18;
	put16(ip + 34, 1000);
	for (size_t i = 0; i < payload; i++)
		ip[52 + i] = (uint8_t)(i * 3 + (i >> 9));
	uint16_t ps = um_csum_fold(um_csum_pseudo(ip + 12, ip + 16, 4, 6, (uint32_t)(32 + payload)));
	memcpy(ip + 36, &ps, 2);
	struct um_vnet_hdr vh = {.flags = UM_VNET_F_NEEDS_CSUM,
				 .gso_type = UM_VNET_GSO_TCPV4,
				 .hdr_len = 14 + 52,
				 .gso_size = 1368,
				 .csum_start = 34,
				 .csum_offset = 16};
	um_vnet_hdr_encode(buf, &vh);
	size_t len = UM_VNET_HDR_LEN + 14 + ip_total;
	CHECK_EQ(send(A.dev[0], buf, len, 0), (ssize_t)len);
	static uint8_t joined[70000];
	size_t received = 0;
	while (received < payload) {
		ssize_t n = read_dev(B.dev[0], got, sizeof(got), 2000);
		if (n <= 0)
			break;
		struct um_vnet_hdr out;
		um_vnet_hdr_decode(got, &out);
		uint8_t *f = got + UM_VNET_HDR_LEN;
		size_t flen = (size_t)n - UM_VNET_HDR_LEN;
		CHECK_MEM(f, e, 14); /* Ethernet header preserved */
		CHECK_EQ(out.csum_start, 34);
		CHECK_EQ(um_offload_finish_csum(f, flen, &out), 0);
		uint8_t *p = f + 14;
		size_t plen = flen - 14;
		uint64_t s = um_csum_pseudo(p + 12, p + 16, 4, 6, (uint32_t)(plen - 20));
		CHECK_EQ(um_csum_fold(um_csum_add(s, p + 20, plen - 20)), 0xffff);
		memcpy(joined + received, p + 52, plen - 52);
		received += plen - 52;
	}
	CHECK_EQ(received, payload);
	CHECK_MEM(joined, ip + 52, payload);
}

int main(void)
{
	if (setup_side(&A) < 0 || setup_side(&B) < 0) {
		fprintf(stderr, "setup failed\n");
		return 1;
	}
	struct um_keypair ka = {.local_index = 11, .remote_index = 22}, kb = {.local_index = 22, .remote_index = 11};
	memset(ka.send_key, 1, 32);
	memset(ka.recv_key, 2, 32);
	memset(kb.send_key, 2, 32);
	memset(kb.recv_key, 1, 32);
	CHECK_EQ(um_dataplane_peer_set_endpoint(A.dp, A.peer, (struct sockaddr *)&B.addr, sizeof(B.addr)), 0);
	CHECK_EQ(um_dataplane_peer_set_endpoint(B.dp, B.peer, (struct sockaddr *)&A.addr, sizeof(A.addr)), 0);
	CHECK_EQ(um_dataplane_peer_install_keypair(A.dp, A.peer, &ka, false), 0);
	CHECK_EQ(um_dataplane_peer_install_keypair(B.dp, B.peer, &kb, false), 0);
	CHECK_EQ(um_dataplane_start(A.dp), 0);
	CHECK_EQ(um_dataplane_start(B.dp), 0);
	RUN(test_flood_and_learn);
	RUN(test_tso_frame);
	struct um_dp_peer_stats st;
	um_dataplane_peer_stats(B.dp, B.peer, &st);
	for (int d = 0; d < UM_DP_DROP_COUNT; d++)
		CHECK_EQ(st.drops[d], 0);
	um_dataplane_free(A.dp);
	um_dataplane_free(B.dp);
	for (int i = 0; i < 2; i++) {
		close(A.dev[i]);
		close(B.dev[i]);
	}
	return um_test_end();
}
