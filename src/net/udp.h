/* SPDX-License-Identifier: MIT */
/* UDP sockets for the data plane: dual-stack (IPv6 socket that also carries
 * IPv4 as v4-mapped addresses) or IPv4-only, non-blocking, SO_REUSEPORT so
 * every worker binds its own socket to the same port, UDP_GRO on receive,
 * UDP_SEGMENT (GSO) cmsgs on send, large buffers (forced when privileged). */
#ifndef UM_NET_UDP_H
#define UM_NET_UDP_H

#include <netinet/in.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

/* Linux constants missing from older libc headers. */
#ifndef UDP_SEGMENT
#define UDP_SEGMENT 103
#endif
#ifndef UDP_GRO
#define UDP_GRO 104
#endif
#ifndef SOL_UDP
#define SOL_UDP 17
#endif

/* Per-send limits (pitfall 4): payload per GSO send and segments per send. */
#define UM_UDP_GSO_MAX_BYTES 65507u
#define UM_UDP_GSO_MAX_SEGS  64u

/* Control-buffer space for one UDP_SEGMENT or UDP_GRO cmsg. */
#define UM_UDP_CMSG_SPACE 32

/* Open and bind a socket on port (0 = ephemeral). family AF_INET6 gives a
 * dual-stack socket bound to ::, AF_INET one bound to 0.0.0.0. */
int um_udp_open(int family, uint16_t port, bool reuseport, int *fd_out);
/* The bound port of fd. */
int um_udp_local_port(int fd, uint16_t *port);

/* Convert any AF_INET/AF_INET6 address to the form the socket family wants
 * (v4-mapped sockaddr_in6 for AF_INET6 sockets). Returns the length or -UM_EINVAL. */
int um_udp_addr_for_socket(int socket_family, const struct sockaddr *in, socklen_t in_len,
			   struct sockaddr_storage *out);
/* Reverse of the above: v4-mapped -> sockaddr_in. Returns the length. */
socklen_t um_udp_addr_unmap(const struct sockaddr_storage *in, struct sockaddr_storage *out);
/* Equal address and port? */
bool um_udp_addr_equal(const struct sockaddr_storage *a, const struct sockaddr_storage *b);

/* Attach a UDP_SEGMENT cmsg to msg (cbuf holds UM_UDP_CMSG_SPACE bytes). */
void um_udp_set_gso(struct msghdr *msg, uint8_t *cbuf, uint16_t gso_size);
/* gso_size from a received UDP_GRO cmsg, or 0 if absent. */
uint16_t um_udp_gro_size(struct msghdr *msg);

#endif
