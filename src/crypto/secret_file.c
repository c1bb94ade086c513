/* SPDX-License-Identifier: MIT */
/* One-line secret files (format in secret_file.h). */
#include "crypto/secret_file.h"

#include <errno.h>
#include <fcntl.h>
#include <sodium.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "crypto/secmem.h"
#include "crypto/sha3.h"
#include "util/error.h"

enum {
	CHECK_BYTES = 4, /* 8 hex digits */
	TAG_MAX = UM_SECRET_KIND_MAX + 16,
	LINE_MAX_LEN = TAG_MAX + 4 * ((UM_SECRET_BYTES_MAX + 2) / 3) + 1 + 2 * CHECK_BYTES,
};

/* "umbra-<kind>-": the magic every version shares; 0 if kind is unusable. */
static size_t magic(char out[TAG_MAX], const char *kind)
{
	int n;

	if (!kind || strlen(kind) >= UM_SECRET_KIND_MAX)
		return 0;
	n = snprintf(out, TAG_MAX, "umbra-%s-", kind);
	return n > 0 && n < TAG_MAX ? (size_t)n : 0;
}

static size_t base64_len(size_t n)
{
	return 4 * ((n + 2) / 3);
}

size_t um_secret_line_len(const char *kind, size_t n)
{
	char tag[TAG_MAX];
	size_t magic_len = magic(tag, kind);

	if (!magic_len || n == 0 || n > UM_SECRET_BYTES_MAX)
		return 0;
	return magic_len + 2 + base64_len(n) + 1 + 2 * CHECK_BYTES; /* "1 " after the magic */
}

/* First 4 bytes of SHA3-256 over the line before " <check>". */
static void line_check(uint8_t check[CHECK_BYTES], const char *text, size_t len)
{
	uint8_t digest[UM_SHA3_256_BYTES];

	um_sha3_256(digest, (const uint8_t *)text, len);
	memcpy(check, digest, CHECK_BYTES);
	sodium_memzero(digest, sizeof(digest));
}

int um_secret_line_format(const char *kind, const uint8_t *bytes, size_t n, char *out, size_t out_size)
{
	char tag[TAG_MAX];
	size_t magic_len = magic(tag, kind), line_len = um_secret_line_len(kind, n), b64 = base64_len(n);
	uint8_t check[CHECK_BYTES];
	char *p = out;

	if (!line_len || !bytes)
		return -UM_EINVAL;
	if (!out || out_size < line_len + 2)
		return -UM_ERANGE;
	memcpy(p, tag, magic_len);
	p += magic_len;
	*p++ = '1';
	*p++ = ' ';
	sodium_bin2base64(p, b64 + 1, bytes, n, sodium_base64_VARIANT_ORIGINAL);
	p += b64;
	line_check(check, out, (size_t)(p - out));
	*p++ = ' ';
	sodium_bin2hex(p, 2 * CHECK_BYTES + 1, check, CHECK_BYTES);
	p += 2 * CHECK_BYTES;
	*p++ = '\n';
	*p = '\0';
	return 0;
}

int um_secret_line_parse(const char *kind, const char *text, size_t len, uint8_t *bytes, size_t n)
{
	char tag[TAG_MAX], again[4 * ((UM_SECRET_BYTES_MAX + 2) / 3) + 1];
	uint8_t decoded[UM_SECRET_BYTES_MAX], check[CHECK_BYTES], expect[CHECK_BYTES];
	size_t magic_len = magic(tag, kind), line_len = um_secret_line_len(kind, n), b64 = base64_len(n);
	size_t decoded_len = 0, hex_len = 0, version_end;
	const char *body, *b64_end = NULL;
	int rc;

	if (!line_len || !bytes || (!text && len))
		return -UM_EINVAL;
	if (len && text[len - 1] == '\n')
		len--;
	if (len && text[len - 1] == '\r')
		len--;
	if (!len)
		return -UM_ETRUNC;
	if (len < magic_len)
		return memcmp(text, tag, len) == 0 ? -UM_ETRUNC : -UM_EINVAL;
	if (memcmp(text, tag, magic_len) != 0)
		return -UM_EINVAL;
	for (version_end = magic_len; version_end < len && text[version_end] != ' '; version_end++)
		;
	if (version_end == magic_len)
		return version_end == len ? -UM_ETRUNC : -UM_EINVAL;
	if (version_end - magic_len != 1 || text[magic_len] != '1') {
		for (size_t i = magic_len; i < version_end; i++)
			if (text[i] < '0' || text[i] > '9')
				return -UM_EINVAL;
		return -UM_EVERSION;
	}
	if (len < line_len)
		return -UM_ETRUNC;
	if (len > line_len)
		return -UM_EINVAL;
	body = text + magic_len + 2;
	if (body[b64] != ' ')
		return -UM_EINVAL;

	/* Right shape: from here on, damaged content is a checksum failure. */
	rc = -UM_ECHECKSUM;
	line_check(expect, text, (size_t)(body - text) + b64);
	if (sodium_hex2bin(check, sizeof(check), body + b64 + 1, 2 * CHECK_BYTES, NULL, &hex_len, NULL) != 0 ||
	    hex_len != CHECK_BYTES)
		goto out;
	for (int i = 0; i < 2 * CHECK_BYTES; i++) {
		char c = body[b64 + 1 + i];

		if (c >= 'A' && c <= 'F')
			goto out; /* lowercase only: one canonical line per secret */
	}
	if (sodium_memcmp(check, expect, CHECK_BYTES) != 0)
		goto out;
	/* The checksum matched, so bad base64 here was written that way. */
	rc = -UM_EINVAL;
	if (sodium_base642bin(decoded, sizeof(decoded), body, b64, NULL, &decoded_len, &b64_end,
			      sodium_base64_VARIANT_ORIGINAL) != 0 ||
	    decoded_len != n || b64_end != body + b64)
		goto out;
	/* One canonical line per secret: the padding bits of the last
	 * character must be zero, which re-encoding shows. */
	sodium_bin2base64(again, sizeof(again), decoded, n, sodium_base64_VARIANT_ORIGINAL);
	if (sodium_memcmp(again, body, b64) != 0)
		goto out;
	memcpy(bytes, decoded, n);
	rc = 0;
out:
	sodium_memzero(decoded, sizeof(decoded));
	sodium_memzero(again, sizeof(again));
	return rc;
}

/* Opens path for reading only if it is a regular file without group or
 * other permission bits, and reads at most max bytes into locked memory. */
int um_secret_blob_load(const char *path, size_t max, uint8_t **out, size_t *out_len)
{
	struct stat st;
	char *buf = NULL;
	size_t len = 0;
	int fd, rc = 0;

	if (!path || !out || !out_len)
		return -UM_EINVAL;
	*out = NULL;
	*out_len = 0;
	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
	if (fd < 0)
		return -errno;
	if (fstat(fd, &st) != 0) {
		rc = -errno;
		goto out;
	}
	if (!S_ISREG(st.st_mode)) {
		rc = -UM_EINVAL;
		goto out;
	}
	if (st.st_mode & 077) {
		rc = -UM_EPERM; /* checked before reading: a leaked key is never used */
		goto out;
	}
	buf = um_secmem_alloc(max + 1);
	if (!buf) {
		rc = -UM_ENOMEM;
		goto out;
	}
	while (len <= max) {
		ssize_t got = read(fd, buf + len, max + 1 - len);

		if (got < 0 && errno == EINTR)
			continue;
		if (got < 0) {
			rc = -errno;
			goto out;
		}
		if (got == 0)
			break;
		len += (size_t)got;
	}
	if (len > max) {
		rc = -UM_EINVAL;
		goto out;
	}
	*out = (uint8_t *)buf;
	*out_len = len;
	buf = NULL;
out:
	um_secmem_free(buf);
	close(fd);
	return rc;
}

int um_secret_file_load(const char *kind, const char *path, uint8_t *bytes, size_t n)
{
	uint8_t *buf = NULL;
	size_t len = 0;
	int rc;

	if (!path || !bytes)
		return -UM_EINVAL;
	rc = um_secret_blob_load(path, UM_SECRET_FILE_MAX, &buf, &len);
	if (rc == 0)
		rc = um_secret_line_parse(kind, (const char *)buf, len, bytes, n);
	um_secmem_free(buf);
	return rc;
}

static int write_all(int fd, const char *data, size_t len)
{
	while (len) {
		ssize_t written = write(fd, data, len);

		if (written < 0 && errno == EINTR)
			continue;
		if (written < 0)
			return -errno;
		data += written;
		len -= (size_t)written;
	}
	return 0;
}

/* Rename that refuses to replace an existing file; link()+unlink() where the
 * file system lacks RENAME_NOREPLACE (link also fails with EEXIST). */
static int rename_noreplace(const char *from, const char *to)
{
	if (renameat2(AT_FDCWD, from, AT_FDCWD, to, RENAME_NOREPLACE) == 0)
		return 0;
	if (errno != EINVAL && errno != ENOSYS && errno != ENOTSUP)
		return -errno;
	if (link(from, to) != 0)
		return -errno;
	unlink(from);
	return 0;
}

/* fsync the directory holding path so the rename itself is durable. */
static int sync_parent_dir(const char *path)
{
	const char *slash = strrchr(path, '/');
	char *dir = slash ? strndup(path, slash == path ? 1 : (size_t)(slash - path)) : strdup(".");
	int fd, rc = 0;

	if (!dir)
		return -UM_ENOMEM;
	fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	free(dir);
	if (fd < 0)
		return -errno;
	if (fsync(fd) != 0 && errno != EINVAL) /* some file systems cannot sync directories */
		rc = -errno;
	close(fd);
	return rc;
}

int um_secret_blob_save(const char *path, const uint8_t *bytes, size_t len, bool replace)
{
	uint8_t salt[8];
	char hex[2 * sizeof(salt) + 1];
	char *tmp = NULL;
	struct stat st;
	int fd = -1, rc;

	if (!path || !*path || (!bytes && len))
		return -UM_EINVAL;
	if (!replace && lstat(path, &st) == 0)
		return -EEXIST; /* early answer; rename_noreplace is the real guard */
	/* A random name beside the target (64 bits: no retry needed), created
	 * exclusively, so nothing placed there beforehand is followed or reused. */
	randombytes_buf(salt, sizeof(salt));
	sodium_bin2hex(hex, sizeof(hex), salt, sizeof(salt));
	if (asprintf(&tmp, "%s.tmp-%s", path, hex) < 0)
		return -UM_ENOMEM;
	fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, S_IRUSR | S_IWUSR);
	if (fd < 0) {
		rc = -errno;
		free(tmp);
		tmp = NULL; /* not ours: never unlink it */
		goto out;
	}
	/* open() applies the umask; set 0600 exactly whatever it is. */
	if (fchmod(fd, S_IRUSR | S_IWUSR) != 0) {
		rc = -errno;
		goto out;
	}
	rc = write_all(fd, (const char *)bytes, len);
	if (rc < 0)
		goto out;
	if (fsync(fd) != 0) {
		rc = -errno;
		goto out;
	}
	rc = close(fd) != 0 ? -errno : 0;
	fd = -1;
	if (rc < 0)
		goto out;
	if (replace)
		rc = rename(tmp, path) == 0 ? 0 : -errno; /* atomic: the old file or the new, never half */
	else
		rc = rename_noreplace(tmp, path);
	if (rc < 0)
		goto out;
	free(tmp);
	tmp = NULL;
	rc = sync_parent_dir(path);
out:
	if (fd >= 0)
		close(fd);
	if (tmp) {
		unlink(tmp);
		free(tmp);
	}
	return rc;
}

int um_secret_file_save(const char *kind, const char *path, const uint8_t *bytes, size_t n)
{
	char line[LINE_MAX_LEN + 2];
	size_t line_len = um_secret_line_len(kind, n);
	int rc;

	if (!path || !*path || !line_len || !bytes)
		return -UM_EINVAL;
	rc = um_secret_line_format(kind, bytes, n, line, sizeof(line));
	if (rc == 0)
		rc = um_secret_blob_save(path, (const uint8_t *)line, line_len + 1, false);
	sodium_memzero(line, sizeof(line));
	return rc;
}
