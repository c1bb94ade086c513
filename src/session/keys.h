/* SPDX-License-Identifier: MIT */
/* Session keys handed from the handshake engine to the data plane. The data
 * plane copies what it needs; the caller zeroes its copy after installing. */
#ifndef UM_SESSION_KEYS_H
#define UM_SESSION_KEYS_H

#include <stdbool.h>
#include <stdint.h>

#define UM_KEY_LEN 32

struct um_keypair {
	uint8_t send_key[UM_KEY_LEN], recv_key[UM_KEY_LEN];
	uint32_t local_index;  /* we receive DATA carrying this index */
	uint32_t remote_index; /* we put this index in DATA we send */
	uint64_t created_ns;   /* monotonic */
	bool initiator;
};

#endif
