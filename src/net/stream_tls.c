/* SPDX-License-Identifier: MIT */
/* TLS contexts for net/stream.h: the client's (any certificate, or a CA's
 * chain) and the server's (configured files or a fresh self-signed one). */
#include <string.h>

#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <sodium.h>

#include "net/stream.h"
#include "util/error.h"
#include "util/log.h"

static void set_common(SSL_CTX *ctx)
{
	SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
	/* Idle connections give their buffers back: memory follows traffic. */
	SSL_CTX_set_mode(ctx, SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER |
				  SSL_MODE_RELEASE_BUFFERS);
}

int um_stream_tls_client(SSL_CTX **out, const char *ca_file)
{
	SSL_CTX *ctx = SSL_CTX_new(TLS_client_method());

	*out = NULL;
	if (!ctx)
		return -UM_ENOMEM;
	set_common(ctx);
	SSL_CTX_set_verify(ctx, SSL_VERIFY_NONE, NULL);
	if (ca_file && ca_file[0]) {
		if (SSL_CTX_load_verify_locations(ctx, ca_file, NULL) != 1) {
			ERR_clear_error();
			SSL_CTX_free(ctx);
			return -UM_EINVAL;
		}
		SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, NULL);
	}
	*out = ctx;
	return 0;
}

/* A self-signed P-256 certificate: the peers of these streams do not rely
 * on the chain (what travels inside is end-to-end encrypted), TLS only
 * makes the traffic look like any HTTPS and keeps middleboxes out. */
static int self_signed(SSL_CTX *ctx, const char *cn)
{
	EVP_PKEY *key = EVP_EC_gen("P-256");
	X509 *cert = X509_new();
	uint64_t serial;
	int r = -UM_EINVAL;

	if (!key || !cert)
		goto out;
	randombytes_buf(&serial, sizeof(serial));
	X509_NAME *name = X509_get_subject_name(cert);
	if (X509_set_version(cert, 2) != 1 || ASN1_INTEGER_set_uint64(X509_get_serialNumber(cert), serial >> 1) != 1 ||
	    !X509_gmtime_adj(X509_getm_notBefore(cert), -3600) ||
	    !X509_gmtime_adj(X509_getm_notAfter(cert), 10L * 365 * 24 * 3600) || X509_set_pubkey(cert, key) != 1 ||
	    X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC, (const unsigned char *)cn, -1, -1, 0) != 1 ||
	    X509_set_issuer_name(cert, name) != 1 || X509_sign(cert, key, EVP_sha256()) <= 0 ||
	    SSL_CTX_use_certificate(ctx, cert) != 1 || SSL_CTX_use_PrivateKey(ctx, key) != 1)
		goto out;
	r = 0;
out:
	X509_free(cert);
	EVP_PKEY_free(key);
	return r;
}

int um_stream_tls_server(SSL_CTX **out, const char *certificate_file, const char *key_file, const char *cn,
			 uint8_t fingerprint[32])
{
	SSL_CTX *ctx = SSL_CTX_new(TLS_server_method());
	int r = -UM_EINVAL;

	*out = NULL;
	if (!ctx)
		return -UM_ENOMEM;
	set_common(ctx);
	SSL_CTX_set_options(ctx, SSL_OP_NO_RENEGOTIATION | SSL_OP_CIPHER_SERVER_PREFERENCE);
	SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_OFF);
	SSL_CTX_set_num_tickets(ctx, 0);
	if (certificate_file || key_file) {
		if (!certificate_file || !key_file || SSL_CTX_use_certificate_chain_file(ctx, certificate_file) != 1 ||
		    SSL_CTX_use_PrivateKey_file(ctx, key_file, SSL_FILETYPE_PEM) != 1 ||
		    SSL_CTX_check_private_key(ctx) != 1) {
			char text[256];
			ERR_error_string_n(ERR_get_error(), text, sizeof(text));
			um_log_error("TLS certificate %s / key %s: %s", certificate_file ? certificate_file : "-",
				     key_file ? key_file : "-", text);
			goto out;
		}
	} else if (self_signed(ctx, cn && cn[0] ? cn : "umbra")) {
		goto out;
	}
	if (fingerprint) {
		X509 *cert = SSL_CTX_get0_certificate(ctx);
		unsigned len = 0;
		if (!cert || X509_digest(cert, EVP_sha256(), fingerprint, &len) != 1)
			memset(fingerprint, 0, 32);
	}
	*out = ctx;
	ctx = NULL;
	r = 0;
out:
	ERR_clear_error();
	SSL_CTX_free(ctx);
	return r;
}
