/* SPDX-License-Identifier: MIT */
/* The messaging ops of the control protocol (ctl/control.h): parsing and
 * validation of each op, the percent encoding, the 64 KiB send= at its
 * worst-case size, and a live server: a large send= read in pieces, an
 * inbox-follow client that stays connected and gets the notified lines. */
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "ctl/client.h"
#include "ctl/control.h"
#include "net/loop.h"
#include "test.h"
#include "util/error.h"

static struct um_control_request req; /* large: not on the stack */

static int parse(const char *text)
{
	return um_control_parse_request(&req, text, strlen(text));
}

static void test_ops(void)
{
	CHECK_EQ(parse("send=alpha\ntext=hello%20world\n\n"), 0);
	CHECK_EQ(req.op, UM_CONTROL_SEND);
	CHECK(!strcmp(req.target, "alpha"));
	CHECK_EQ(req.kind, 0);
	CHECK_EQ(req.body_len, 11u);
	CHECK_MEM(req.body, "hello world", 11);
	/* Pieces append; %0A is a newline. */
	CHECK_EQ(parse("send=alpha\ntext=a%0A\ntext=b\n\n"), 0);
	CHECK_EQ(req.body_len, 3u);
	CHECK_MEM(req.body, "a\nb", 3);
	CHECK_EQ(parse("send=alpha\nbody=00ff10\n\n"), 0);
	CHECK_EQ(req.kind, 1);
	CHECK_EQ(req.body_len, 3u);
	CHECK_MEM(req.body, "\x00\xff\x10", 3);
	CHECK_EQ(parse("send=alpha\n\n"), -UM_EINVAL);                  /* no body */
	CHECK_EQ(parse("send=alpha\ntext=a\nbody=00\n\n"), -UM_EINVAL); /* mixed */
	CHECK_EQ(parse("send=alpha\nbody=0\n\n"), -UM_EINVAL);          /* odd hex */
	CHECK_EQ(parse("send=alpha\ntext=%4\n\n"), -UM_EINVAL);         /* cut escape */
	CHECK_EQ(parse("send=alpha\ntext=%zz\n\n"), -UM_EINVAL);
	CHECK_EQ(parse("send=alpha\ntext=a\tb\n\n"), -UM_EINVAL); /* a raw control character */
	CHECK_EQ(parse("send=al pha\ntext=a\n\n"), -UM_EINVAL);
	CHECK_EQ(parse("send=\ntext=a\n\n"), -UM_EINVAL);
	CHECK_EQ(parse("send=alpha\npath=/x\n\n"), -UM_EINVAL); /* another op's key */

	CHECK_EQ(parse("inbox=json\nafter=12\nlimit=5\npeer=beta\n\n"), 0);
	CHECK_EQ(req.op, UM_CONTROL_INBOX);
	CHECK_EQ(req.format, UM_CONTROL_FORMAT_JSON);
	CHECK_EQ(req.after, 12u);
	CHECK_EQ(req.limit, 5u);
	CHECK(!strcmp(req.peer_filter, "beta"));
	CHECK_EQ(parse("inbox=text\n\n"), 0);
	CHECK_EQ(req.format, UM_CONTROL_FORMAT_TEXT);
	CHECK_EQ(parse("inbox=xml\n\n"), -UM_EINVAL);
	CHECK_EQ(parse("inbox=json\nafter=1\nafter=2\n\n"), -UM_EINVAL);
	CHECK_EQ(parse("inbox=json\nafter=-1\n\n"), -UM_EINVAL);
	CHECK_EQ(parse("inbox=json\nafter=99999999999999999999\n\n"), -UM_EINVAL);
	CHECK_EQ(parse("inbox=json\nlimit=4294967296\n\n"), -UM_EINVAL);

	CHECK_EQ(parse("inbox-follow=1\n\n"), 0);
	CHECK_EQ(req.op, UM_CONTROL_INBOX_FOLLOW);
	CHECK_EQ(req.format, UM_CONTROL_FORMAT_JSON);
	CHECK(!req.has_after);
	CHECK_EQ(parse("inbox-follow=text\nafter=3\n\n"), 0);
	CHECK(req.has_after);
	CHECK_EQ(req.after, 3u);
	CHECK_EQ(parse("inbox-follow=1\nlimit=3\n\n"), -UM_EINVAL);

	CHECK_EQ(parse("file-send=beta\npath=/tmp/a%20b\n\n"), 0);
	CHECK_EQ(req.op, UM_CONTROL_FILE_SEND);
	CHECK(!strcmp(req.path, "/tmp/a b"));
	CHECK_EQ(parse("file-send=beta\npath=relative\n\n"), -UM_EINVAL);
	CHECK_EQ(parse("file-send=beta\npath=/a%00b\n\n"), -UM_EINVAL); /* NUL in a path */
	CHECK_EQ(parse("file-send=beta\n\n"), -UM_EINVAL);

	static const char id[] = "00112233445566778899aabbccddeeff";
	char text[512];
	snprintf(text, sizeof(text), "file-accept=%s\n\n", id);
	CHECK_EQ(parse(text), 0);
	CHECK_EQ(req.op, UM_CONTROL_FILE_ACCEPT);
	CHECK_MEM(req.id, "\x00\x11\x22\x33\x44\x55\x66\x77\x88\x99\xaa\xbb\xcc\xdd\xee\xff", 16);
	snprintf(text, sizeof(text), "file-reject=%s\nreason=too%%20big\n\n", id);
	CHECK_EQ(parse(text), 0);
	CHECK_EQ(req.op, UM_CONTROL_FILE_REJECT);
	CHECK(!strcmp(req.text, "too big"));
	snprintf(text, sizeof(text), "read=%s\n\n", id);
	CHECK_EQ(parse(text), 0);
	CHECK_EQ(req.op, UM_CONTROL_READ);
	CHECK_EQ(parse("read=0011\n\n"), -UM_EINVAL);
	CHECK_EQ(parse("file-accept=00112233445566778899aabbccddeefg\n\n"), -UM_EINVAL);
	snprintf(text, sizeof(text), "file-list=text\nid=%s\n\n", id);
	CHECK_EQ(parse(text), 0);
	CHECK(req.has_id);
	CHECK_EQ(parse("file-list=json\n\n"), 0);
	CHECK(!req.has_id);

	CHECK_EQ(parse("presence=get\n\n"), 0);
	CHECK_EQ(req.op, UM_CONTROL_PRESENCE);
	CHECK(!req.presence_set);
	CHECK_EQ(parse("presence=json\n\n"), 0);
	CHECK_EQ(req.format, UM_CONTROL_FORMAT_JSON);
	CHECK_EQ(parse("presence=set\nstate=busy\ntext=in%20a%20call\n\n"), 0);
	CHECK(req.presence_set);
	CHECK_EQ(req.state, 3);
	CHECK(!strcmp(req.text, "in a call"));
	CHECK_EQ(parse("presence=set\n\n"), -UM_EINVAL); /* no state */
	CHECK_EQ(parse("presence=set\nstate=asleep\n\n"), -UM_EINVAL);
	CHECK_EQ(parse("presence=get\nstate=busy\n\n"), -UM_EINVAL);
	/* The status text holds at most 256 bytes. */
	char long_text[400];
	memset(long_text, 'x', sizeof(long_text));
	snprintf(text, sizeof(text), "presence=set\nstate=away\ntext=%.200s\ntext=%.57s\n\n", long_text, long_text);
	CHECK_EQ(parse(text), -UM_EINVAL);
	snprintf(text, sizeof(text), "presence=set\nstate=away\ntext=%.200s\ntext=%.56s\n\n", long_text, long_text);
	CHECK_EQ(parse(text), 0);
	CHECK_EQ(strlen(req.text), 256u);
}

static void test_percent(void)
{
	uint8_t all[256], back[256];
	char enc[800];
	size_t n;

	for (int i = 0; i < 256; i++)
		all[i] = (uint8_t)i;
	size_t len = um_control_percent_encode(all, sizeof(all), enc, sizeof(enc));
	CHECK_EQ(len, strlen(enc));
	CHECK_EQ(len, 256u + 2 * (32 + 2)); /* 0x00..0x1f, '%' and 0x7f escaped */
	for (size_t i = 0; i < len; i++)
		CHECK((unsigned char)enc[i] >= 0x20 && enc[i] != 0x7f);
	CHECK_EQ(um_control_percent_decode(enc, len, back, sizeof(back), &n), 0);
	CHECK_EQ(n, 256u);
	CHECK_MEM(back, all, 256);
	/* Too small an output: the length it needs, a NUL-terminated prefix. */
	char small[4];
	CHECK_EQ(um_control_percent_encode("%%%", 3, small, sizeof(small)), 9u);
	CHECK(strlen(small) < sizeof(small));
	CHECK_EQ(um_control_percent_decode(enc, len, back, 10, &n), -UM_EINVAL);
	CHECK_EQ(um_control_percent_decode("%", 1, back, sizeof(back), &n), -UM_EINVAL);
	CHECK_EQ(um_control_percent_decode("%1", 2, back, sizeof(back), &n), -UM_EINVAL);
}

/* A send= with a 64 KiB body of bytes that all need escaping, in lines of
 * 240 encoded bytes. */
static char *big_send(size_t body_len, size_t *len)
{
	size_t cap = 64 + body_len * 3 + body_len / 80 * 8 + 16;
	char *out = malloc(cap);
	size_t used;

	if (!out)
		return NULL;
	used = (size_t)snprintf(out, cap, "send=alpha\n");
	for (size_t i = 0; i < body_len; i += 80) {
		size_t piece = body_len - i < 80 ? body_len - i : 80;
		used += (size_t)snprintf(out + used, cap - used, "text=");
		for (size_t j = 0; j < piece; j++)
			used += (size_t)snprintf(out + used, cap - used, "%%25");
		out[used++] = '\n';
	}
	out[used++] = '\n';
	out[used] = '\0';
	*len = used;
	return out;
}

static void test_largest_send(void)
{
	size_t len;
	char *text = big_send(UM_CONTROL_MESSAGE_MAX, &len);

	CHECK(text != NULL);
	if (!text)
		return;
	CHECK(len <= UM_CONTROL_REQUEST_SEND_MAX);
	CHECK_EQ(um_control_parse_request(&req, text, len), 0);
	CHECK_EQ(req.body_len, (size_t)UM_CONTROL_MESSAGE_MAX);
	CHECK(req.body[0] == '%' && req.body[UM_CONTROL_MESSAGE_MAX - 1] == '%');
	free(text);
	text = big_send(UM_CONTROL_MESSAGE_MAX + 1, &len);
	CHECK(text != NULL);
	if (text)
		CHECK_EQ(um_control_parse_request(&req, text, len), -UM_EINVAL);
	free(text);
}

/* ---- a live server ---- */

static size_t handled_body;

static int handler(void *arg, const struct um_control_request *r, struct um_control_reply *reply)
{
	(void)arg;
	if (r->op == UM_CONTROL_SEND) {
		handled_body = r->body_len;
		um_control_reply_add(reply, "id", "%s", "x");
	}
	return 0;
}

static int connect_to(const char *path)
{
	struct sockaddr_un addr = {.sun_family = AF_UNIX};
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);

	snprintf(addr.sun_path, sizeof(addr.sun_path), "%s", path);
	if (fd >= 0 && connect(fd, (struct sockaddr *)&addr, sizeof(addr))) {
		close(fd);
		return -1;
	}
	return fd;
}

/* Reads what fd has after running the loop a little. */
static size_t pump_read(struct um_loop *loop, int fd, char *buf, size_t cap)
{
	size_t have = 0;

	for (int i = 0; i < 50 && have < cap - 1; i++) {
		um_loop_run_once(loop, 10);
		struct pollfd p = {.fd = fd, .events = POLLIN};
		if (poll(&p, 1, 0) == 1) {
			ssize_t n = recv(fd, buf + have, cap - 1 - have, MSG_DONTWAIT);
			if (n <= 0)
				break;
			have += (size_t)n;
		}
	}
	buf[have] = '\0';
	return have;
}

static void test_server(void)
{
	char dir[] = "/tmp/um_test_control_XXXXXX", path[256], buf[4096];
	struct um_control_server server;
	struct um_loop *loop = NULL;

	CHECK(mkdtemp(dir) != NULL);
	snprintf(path, sizeof(path), "%s/c.sock", dir);
	CHECK_EQ(um_loop_new(&loop), 0);
	if (!loop)
		return;
	CHECK_EQ(um_control_server_start(&server, loop, path, handler, NULL), 0);

	/* The largest send= arrives in pieces and is served. */
	size_t len;
	char *text = big_send(UM_CONTROL_MESSAGE_MAX, &len);
	int fd = connect_to(path);
	CHECK(fd >= 0 && text);
	for (size_t sent = 0; fd >= 0 && text && sent < len;) {
		ssize_t n = send(fd, text + sent, len - sent > 8192 ? 8192 : len - sent, MSG_NOSIGNAL | MSG_DONTWAIT);
		if (n > 0)
			sent += (size_t)n;
		um_loop_run_once(loop, 1);
	}
	pump_read(loop, fd, buf, sizeof(buf));
	CHECK(strstr(buf, "id=x\nerrno=0\n\n") != NULL);
	CHECK_EQ(handled_body, (size_t)UM_CONTROL_MESSAGE_MAX);
	close(fd);
	free(text);

	/* Any other op stays within the small cap. */
	fd = connect_to(path);
	char junk[5000];
	memset(junk, 'a', sizeof(junk));
	memcpy(junk, "get=1\n", 6);
	CHECK(send(fd, junk, sizeof(junk), MSG_NOSIGNAL) > 0);
	pump_read(loop, fd, buf, sizeof(buf));
	CHECK(strstr(buf, "errno=90") != NULL); /* EMSGSIZE */
	close(fd);

	/* A follower: its reply, then the notified lines, in its format. */
	int json = connect_to(path), plain = connect_to(path);
	CHECK(send(json, "inbox-follow=1\n\n", 16, MSG_NOSIGNAL) == 16);
	CHECK(send(plain, "inbox-follow=text\n\n", 19, MSG_NOSIGNAL) == 19);
	pump_read(loop, json, buf, sizeof(buf));
	CHECK(!strcmp(buf, "errno=0\n\n"));
	pump_read(loop, plain, buf, sizeof(buf));
	CHECK(!strcmp(buf, "errno=0\n\n"));
	CHECK_EQ(um_control_server_followers(&server), 2u);
	um_control_server_notify(&server, "{\"a\":1}", 7, "message 1", 9);
	pump_read(loop, json, buf, sizeof(buf));
	CHECK(!strcmp(buf, "json={\"a\":1}\n"));
	pump_read(loop, plain, buf, sizeof(buf));
	CHECK(!strcmp(buf, "event=message 1\n"));
	/* A follower that hangs up is gone; the other stays (no deadline). */
	close(plain);
	for (int i = 0; i < 600; i++)
		um_loop_run_once(loop, 10); /* past UM_CONTROL_TIMEOUT_MS */
	CHECK_EQ(um_control_server_followers(&server), 1u);
	um_control_server_notify(&server, "{}", 2, NULL, 0);
	pump_read(loop, json, buf, sizeof(buf));
	CHECK(!strcmp(buf, "json={}\n"));
	close(json);

	um_control_server_stop(&server);
	um_loop_free(loop);
	rmdir(dir);
}

int main(void)
{
	RUN(test_ops);
	RUN(test_percent);
	RUN(test_largest_send);
	RUN(test_server);
	return um_test_end();
}
