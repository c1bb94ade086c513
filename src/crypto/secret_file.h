/* SPDX-License-Identifier: MIT */
/* One-line secret files: the private identity (crypto/identity.h) and the
 * network key (dht/network_key.h) share this format and its file handling.
 *
 *   umbra-<kind>-1 <bytes> <check>\n
 *
 * <bytes>: the secret in standard padded base64, canonical (zero padding
 * bits: one line per secret). <check>: 8 lowercase hex digits, the first 4
 * bytes of SHA3-256 of everything before the last space. The newline is
 * optional ("\r\n" accepted). Errors: -UM_ETRUNC for a cut line,
 * -UM_EVERSION for "umbra-<kind>-N" with N != 1, -UM_ECHECKSUM for a line of
 * the right shape whose check field is not 8 lowercase hex digits or does not
 * match, -UM_EINVAL for anything else.
 *
 * Files are read only when no group or other permission bit is set (checked
 * before reading: a leaked key is never used), and written 0600 through a
 * fresh temporary name, fsync and a rename that never replaces a file. */
#ifndef UM_CRYPTO_SECRET_FILE_H
#define UM_CRYPTO_SECRET_FILE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum {
	UM_SECRET_KIND_MAX = 32,   /* "identity", "network-key" */
	UM_SECRET_BYTES_MAX = 128, /* longest secret a line holds */
	UM_SECRET_FILE_MAX = 256,  /* bigger files are refused unread */
};

/* Length of the line for a secret of n bytes, without newline and NUL. */
size_t um_secret_line_len(const char *kind, size_t n);
/* Writes the line, newline and NUL into out (um_secret_line_len + 2 bytes,
 * else -UM_ERANGE). */
int um_secret_line_format(const char *kind, const uint8_t *bytes, size_t n, char *out, size_t out_size);
/* Parses text[0..len) into bytes[0..n) (written only on success). */
int um_secret_line_parse(const char *kind, const char *text, size_t len, uint8_t *bytes, size_t n);
/* Reads path (-UM_EPERM if group or others may read it; -UM_EINVAL if not a
 * regular file or over UM_SECRET_FILE_MAX bytes) and parses it. The file's
 * text is held in locked memory and wiped. */
int um_secret_file_load(const char *kind, const char *path, uint8_t *bytes, size_t n);
/* Writes the line to path, mode 0600; -EEXIST if path exists (never
 * replaced); the parent directory is synced so the file survives a crash. */
int um_secret_file_save(const char *kind, const char *path, const uint8_t *bytes, size_t n);

/* The same file handling for any small binary secret (the prekey ring,
 * msg/prekey.h): the format, its version and checksum are the caller's.
 * Load: reads at most max bytes of path, refused like um_secret_file_load
 * (-UM_EPERM before reading, -UM_EINVAL not a regular file or longer than
 * max), into *out: locked memory the caller owns and releases with
 * um_secmem_free (crypto/secmem.h); *out_len its length. */
int um_secret_blob_load(const char *path, size_t max, uint8_t **out, size_t *out_len);
/* Writes len bytes to path, mode 0600, through a fresh temporary name and
 * fsync; replace false: -EEXIST if path exists (never replaced); replace
 * true: an atomic rename over the old file (a crash leaves the old file or
 * the new one, whole). The parent directory is synced. */
int um_secret_blob_save(const char *path, const uint8_t *bytes, size_t len, bool replace);

#endif
