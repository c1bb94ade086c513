/* SPDX-License-Identifier: MIT */
#include "ctl/client.h"

#include <errno.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "ctl/control.h"
#include "util/clock.h"
#include "util/error.h"

static int wait_fd(int fd, short events, uint64_t deadline_ns)
{
	struct pollfd p = {.fd = fd, .events = events};
	uint64_t now = um_now_ns();

	if (now >= deadline_ns)
		return -ETIMEDOUT;
	int r = poll(&p, 1, (int)((deadline_ns - now) / UM_NSEC_PER_MSEC) + 1);
	if (r < 0)
		return errno == EINTR ? 0 : -errno;
	return r == 0 ? -ETIMEDOUT : 0;
}

/* The reply is complete once it holds a line "errno=N" followed by the empty line. */
static int reply_status(const char *data, size_t len, int *status)
{
	if (len < 2 || data[len - 1] != '\n' || data[len - 2] != '\n')
		return -UM_ETRUNC;
	size_t end = len - 2, start = end;
	while (start && data[start - 1] != '\n')
		start--;
	if (end - start < 7 || memcmp(data + start, "errno=", 6))
		return -UM_ETRUNC;
	char *stop;
	long v = strtol(data + start + 6, &stop, 10);
	if (stop != data + end || v < 0 || v > 1 << 20)
		return -UM_EINVAL;
	*status = (int)v;
	return 0;
}

int um_control_call(const char *socket_path, const char *request, int timeout_ms, char **reply_out, int *status)
{
	struct sockaddr_un addr = {.sun_family = AF_UNIX};
	uint64_t deadline = um_now_ns() + (uint64_t)timeout_ms * UM_NSEC_PER_MSEC;
	size_t sent = 0, len = strlen(request), cap = 0, have = 0;
	char *buf = NULL;
	int r, fd;

	*reply_out = NULL;
	if (strlen(socket_path) >= sizeof(addr.sun_path))
		return -ENAMETOOLONG;
	memcpy(addr.sun_path, socket_path, strlen(socket_path) + 1);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0)
		return -errno;
	if (connect(fd, (struct sockaddr *)&addr, sizeof(addr))) {
		r = -errno;
		goto out;
	}
	while (sent < len) {
		ssize_t n = send(fd, request + sent, len - sent, MSG_NOSIGNAL);
		if (n < 0) {
			if (errno != EAGAIN && errno != EINTR) {
				r = -errno;
				goto out;
			}
			if ((r = wait_fd(fd, POLLOUT, deadline)))
				goto out;
			continue;
		}
		sent += (size_t)n;
	}
	for (;;) {
		if (cap - have < 4096) {
			if (cap >= UM_CONTROL_REPLY_MAX + 4096) {
				r = -EMSGSIZE;
				goto out;
			}
			cap = cap ? cap * 2 : 16384;
			char *grown = realloc(buf, cap + 1);
			if (!grown) {
				r = -ENOMEM;
				goto out;
			}
			buf = grown;
		}
		ssize_t n = recv(fd, buf + have, cap - have, 0);
		if (n < 0) {
			if (errno != EAGAIN && errno != EINTR) {
				r = -errno;
				goto out;
			}
			if ((r = wait_fd(fd, POLLIN, deadline)))
				goto out;
			continue;
		}
		have += (size_t)n;
		r = reply_status(buf, have, status);
		if (r == 0)
			break;
		if (n == 0 || r != -UM_ETRUNC) {
			r = -UM_EINVAL;
			goto out;
		}
	}
	buf[have] = '\0';
	*reply_out = buf;
	buf = NULL;
	r = 0;
out:
	free(buf);
	close(fd);
	return r;
}

int um_control_next(char **cursor, char **key, char **value)
{
	while (**cursor) {
		char *line = *cursor, *nl = strchr(line, '\n');
		if (nl) {
			*nl = '\0';
			*cursor = nl + 1;
		} else {
			*cursor = line + strlen(line);
		}
		char *eq = strchr(line, '=');
		if (!eq)
			continue;
		*eq = '\0';
		*key = line;
		*value = eq + 1;
		return 1;
	}
	return 0;
}

int um_status_parse(struct um_status *status, char *reply)
{
	struct um_status_block *block = &status->node;
	char *cursor = reply, *key, *value;

	memset(status, 0, sizeof(*status));
	while (um_control_next(&cursor, &key, &value)) {
		if (!strcmp(key, "errno"))
			break;
		if (!strcmp(key, "peer")) {
			struct um_status_block *grown = realloc(status->peers, (status->n_peers + 1) * sizeof(*grown));
			if (!grown) {
				um_status_free(status);
				return -ENOMEM;
			}
			status->peers = grown;
			block = &status->peers[status->n_peers++];
			block->n_fields = 0;
		}
		if (block->n_fields < UM_STATUS_FIELDS_MAX)
			block->fields[block->n_fields++] = (struct um_status_field){key, value};
	}
	return 0;
}

void um_status_free(struct um_status *status)
{
	free(status->peers);
	memset(status, 0, sizeof(*status));
}

const char *um_status_get(const struct um_status_block *block, const char *key)
{
	for (size_t i = 0; i < block->n_fields; i++)
		if (!strcmp(block->fields[i].key, key))
			return block->fields[i].value;
	return NULL;
}

unsigned long long um_status_u64(const struct um_status_block *block, const char *key, unsigned long long fallback)
{
	const char *v = um_status_get(block, key);
	char *end;

	if (!v || !*v || *v == '-')
		return fallback;
	unsigned long long n = strtoull(v, &end, 10);
	return *end ? fallback : n;
}
