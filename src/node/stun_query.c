/* SPDX-License-Identifier: MIT */
/* Blocking STUN query (stun_query.h): the path/ transaction on a socket. */
#include "node/stun_query.h"

#include <errno.h>
#include <poll.h>
#include <string.h>

#include "util/clock.h"
#include "util/error.h"

static int send_request(int fd, const struct um_stun_transaction *t, const struct sockaddr *server, socklen_t len)
{
	ssize_t n = sendto(fd, t->request, sizeof(t->request), MSG_NOSIGNAL, server, len);
	if (n < 0 && um_stun_send_error_fatal(errno))
		return -errno;
	return 0;
}

int um_stun_query(int fd, const struct sockaddr *server, socklen_t server_len, const struct um_stun_options *options,
		  struct um_stun_result *result)
{
	struct um_stun_transaction t;
	struct um_addr want, got;
	uint8_t buf[UM_STUN_MAX_MESSAGE + 1];
	uint64_t deadline = 0;
	int rc;

	memset(result, 0, sizeof(*result));
	if (um_addr_from_sockaddr(&want, server, server_len) < 0)
		return -UM_EINVAL;
	um_stun_transaction_begin(&t, options, um_now_ns());
	for (;;) {
		while ((rc = um_stun_transaction_poll(&t, um_now_ns(), &deadline)) == UM_STUN_SEND) {
			rc = send_request(fd, &t, server, server_len);
			if (rc < 0)
				return rc;
		}
		if (rc < 0) {
			result->requests_sent = t.sent;
			return rc;
		}
		uint64_t now = um_now_ns();
		uint64_t wait_ms = deadline > now ? (deadline - now + UM_NSEC_PER_MSEC - 1) / UM_NSEC_PER_MSEC : 0;
		struct pollfd pfd = {.fd = fd, .events = POLLIN};
		int n = poll(&pfd, 1, wait_ms > 60000 ? 60000 : (int)wait_ms);
		if (n < 0 && errno != EINTR)
			return -errno;
		if (n <= 0)
			continue;
		struct sockaddr_storage from;
		socklen_t from_len = sizeof(from);
		ssize_t len = recvfrom(fd, buf, sizeof(buf), MSG_DONTWAIT, (struct sockaddr *)&from, &from_len);
		if (len < 0) {
			if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR || errno == ECONNREFUSED)
				continue;
			return -errno;
		}
		if (um_addr_from_sockaddr(&got, (const struct sockaddr *)&from, from_len) < 0 ||
		    !um_addr_equal(&got, &want))
			continue;
		rc = um_stun_transaction_input(&t, buf, (size_t)len, um_now_ns(), result);
		if (rc == 0 || rc == -EPROTO)
			return rc;
		/* Not ours or malformed: keep waiting. */
	}
}
