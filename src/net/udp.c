/* SPDX-License-Identifier: MIT */
#include "net/udp.h"
#include "util/compiler.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <unistd.h>

#include "util/error.h"

#define UM_UDP_BUFFER (8 << 20)

static void set_buffers(int fd)
{
	int size = UM_UDP_BUFFER;
	/* FORCE variants ignore rmem_max/wmem_max but need CAP_NET_ADMIN. */
	if (setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &size, sizeof(size)) < 0)
		(void)setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &size, sizeof(size));
	if (setsockopt(fd, SOL_SOCKET, SO_SNDBUFFORCE, &size, sizeof(size)) < 0)
		(void)setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &size, sizeof(size));
}

int um_udp_open(int family, uint16_t port, bool reuseport, int *fd_out)
{
	int rc, one = 1, zero = 0;
	*fd_out = -1;
	if (family != AF_INET && family != AF_INET6)
		return -UM_EINVAL;
	int fd = socket(family, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	if (reuseport && setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof(one)) < 0)
		goto fail;
	if (family == AF_INET6 && setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &zero, sizeof(zero)) < 0)
		goto fail;
	/* GRO is an optimisation: older kernels lack it and still work. */
	(void)setsockopt(fd, SOL_UDP, UDP_GRO, &one, sizeof(one));
	set_buffers(fd);
	struct sockaddr_storage ss;
	socklen_t len;
	memset(&ss, 0, sizeof(ss));
	if (family == AF_INET6) {
		struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)&ss;
		sin6->sin6_family = AF_INET6;
		sin6->sin6_port = htons(port);
		len = sizeof(*sin6);
	} else {
		struct sockaddr_in *sin = (struct sockaddr_in *)&ss;
		sin->sin_family = AF_INET;
		sin->sin_port = htons(port);
		len = sizeof(*sin);
	}
	if (bind(fd, (struct sockaddr *)&ss, len) < 0)
		goto fail;
	*fd_out = fd;
	return 0;
fail:
	rc = -errno;
	close(fd);
	return rc;
}

int um_udp_local_port(int fd, uint16_t *port)
{
	struct sockaddr_storage ss;
	socklen_t len = sizeof(ss);
	if (getsockname(fd, (struct sockaddr *)&ss, &len) < 0)
		return -errno;
	if (ss.ss_family == AF_INET6)
		*port = ntohs(((struct sockaddr_in6 *)&ss)->sin6_port);
	else
		*port = ntohs(((struct sockaddr_in *)&ss)->sin_port);
	return 0;
}

int um_udp_addr_for_socket(int socket_family, const struct sockaddr *in, socklen_t in_len, struct sockaddr_storage *out)
{
	memset(out, 0, sizeof(*out));
	if (in->sa_family == AF_INET && in_len >= (socklen_t)sizeof(struct sockaddr_in)) {
		const struct sockaddr_in *sin = (const struct sockaddr_in *)in;
		if (socket_family == AF_INET) {
			memcpy(out, sin, sizeof(*sin));
			return sizeof(*sin);
		}
		struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)out;
		sin6->sin6_family = AF_INET6;
		sin6->sin6_port = sin->sin_port;
		sin6->sin6_addr.s6_addr[10] = 0xff;
		sin6->sin6_addr.s6_addr[11] = 0xff;
		memcpy(&sin6->sin6_addr.s6_addr[12], &sin->sin_addr, 4);
		return sizeof(*sin6);
	}
	if (in->sa_family == AF_INET6 && in_len >= (socklen_t)sizeof(struct sockaddr_in6)) {
		if (socket_family != AF_INET6) {
			struct sockaddr_storage tmp;
			memcpy(&tmp, in, sizeof(struct sockaddr_in6));
			if (!IN6_IS_ADDR_V4MAPPED(&((struct sockaddr_in6 *)&tmp)->sin6_addr))
				return -UM_EINVAL;
			return (int)um_udp_addr_unmap(&tmp, out);
		}
		memcpy(out, in, sizeof(struct sockaddr_in6));
		return sizeof(struct sockaddr_in6);
	}
	return -UM_EINVAL;
}

socklen_t um_udp_addr_unmap(const struct sockaddr_storage *in, struct sockaddr_storage *out)
{
	const struct sockaddr_in6 *sin6 = (const struct sockaddr_in6 *)in;
	if (in->ss_family == AF_INET6 && IN6_IS_ADDR_V4MAPPED(&sin6->sin6_addr)) {
		struct sockaddr_in sin;
		memset(&sin, 0, sizeof(sin));
		sin.sin_family = AF_INET;
		sin.sin_port = sin6->sin6_port;
		memcpy(&sin.sin_addr, &sin6->sin6_addr.s6_addr[12], 4);
		memset(out, 0, sizeof(*out));
		memcpy(out, &sin, sizeof(sin));
		return sizeof(sin);
	}
	if (out != in)
		memcpy(out, in, sizeof(*out));
	return in->ss_family == AF_INET6 ? sizeof(struct sockaddr_in6) : sizeof(struct sockaddr_in);
}

bool um_udp_addr_equal(const struct sockaddr_storage *a, const struct sockaddr_storage *b)
{
	if (a->ss_family != b->ss_family)
		return false;
	if (a->ss_family == AF_INET) {
		const struct sockaddr_in *x = (const void *)a, *y = (const void *)b;
		return x->sin_port == y->sin_port && x->sin_addr.s_addr == y->sin_addr.s_addr;
	}
	if (a->ss_family == AF_INET6) {
		const struct sockaddr_in6 *x = (const void *)a, *y = (const void *)b;
		return x->sin6_port == y->sin6_port && memcmp(&x->sin6_addr, &y->sin6_addr, sizeof(x->sin6_addr)) == 0;
	}
	return false;
}

void um_udp_set_gso(struct msghdr *msg, uint8_t *cbuf, uint16_t gso_size)
{
	memset(cbuf, 0, UM_UDP_CMSG_SPACE);
	msg->msg_control = cbuf;
	msg->msg_controllen = CMSG_SPACE(sizeof(uint16_t));
	struct cmsghdr *cm = CMSG_FIRSTHDR(msg);
	cm->cmsg_level = SOL_UDP;
	cm->cmsg_type = UDP_SEGMENT;
	cm->cmsg_len = CMSG_LEN(sizeof(uint16_t));
	memcpy(CMSG_DATA(cm), &gso_size, sizeof(gso_size));
}

UM_HOT uint16_t um_udp_gro_size(struct msghdr *msg)
{
	for (struct cmsghdr *cm = CMSG_FIRSTHDR(msg); cm; cm = CMSG_NXTHDR(msg, cm)) {
		if (cm->cmsg_level == SOL_UDP && cm->cmsg_type == UDP_GRO && cm->cmsg_len >= CMSG_LEN(sizeof(int))) {
			int size;
			memcpy(&size, CMSG_DATA(cm), sizeof(size));
			return size > 0 && size <= 65535 ? (uint16_t)size : 0;
		}
	}
	return 0;
}
