/* SPDX-License-Identifier: MIT */
/* libumbra: the embeddable API. Every type is opaque; every function returns
 * 0 or a negative error code (describe it with umbra_strerror()). Objects
 * returned through an `out` pointer are owned by the caller and released
 * with the matching _free/_close function. The library's internals (src/)
 * use the um_ prefix; only what is declared here is stable. */
#ifndef UMBRA_H
#define UMBRA_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Library version, e.g. "0.1.0". */
const char *umbra_version(void);
/* Text for any code returned by this library (static string, never NULL). */
const char *umbra_strerror(int code);
/* Must be called once before anything else (initialises libsodium). */
int umbra_init(void);

/* ---- identities: hybrid Ed25519 + ML-DSA-87 keys and the peer ID ---- */

struct umbra_identity;

enum {
	UMBRA_PEER_ID_TEXT_MAX = 80, /* buffer for the checksummed text form, incl. NUL */
	UMBRA_PEER_ID_SHORT_MAX = 16,
};

/* A new identity from OS randomness. */
int umbra_identity_generate(struct umbra_identity **out);
/* Load a private identity file; refuses files readable by group or others. */
int umbra_identity_load(struct umbra_identity **out, const char *path);
/* Write it (mode 0600, atomically; never overwrites an existing file). */
int umbra_identity_save(const struct umbra_identity *identity, const char *path);
/* The peer ID as text: full (checksummed) and short (for humans only). */
int umbra_identity_peer_id(const struct umbra_identity *identity, char *out, size_t out_size);
int umbra_identity_short_id(const struct umbra_identity *identity, char *out, size_t out_size);
/* Zeroes the secret keys and frees. NULL is accepted. */
void umbra_identity_free(struct umbra_identity *identity);

/* Check a textual peer ID (typos are caught by its checksum): 0 if valid. */
int umbra_peer_id_check(const char *text);

/* ---- a node: what umbrad runs, embeddable in another program ---- */

struct umbra_node;

/* Load the config at config_path and start the node: device, sockets, data
 * plane threads, control socket. Needs CAP_NET_ADMIN. On failure, a
 * message naming file, line and key (for config errors) is written to
 * error (if not NULL). Signals are not touched: the embedding program
 * decides how to stop. */
int umbra_node_open(struct umbra_node **out, const char *config_path, char *error, size_t error_size);
/* A file descriptor that becomes readable when the node has work: poll it
 * in your own loop and call umbra_node_dispatch(node, 0) then. */
int umbra_node_fd(const struct umbra_node *node);
/* Do pending work, waiting at most timeout_ms (-1 = until something). */
int umbra_node_dispatch(struct umbra_node *node, int timeout_ms);
/* Stop everything and free: device removed, control socket removed, keys wiped. */
void umbra_node_close(struct umbra_node *node);

#ifdef __cplusplus
}
#endif

#endif
