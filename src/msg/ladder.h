/* SPDX-License-Identifier: MIT */
/* The delivery ladder (docs/PROTOCOL.md section 22): which rung carries an
 * outgoing message. A live session (direct, then through a relay, then a
 * relay over TLS) carries it whenever one exists; without one, the message
 * is sealed (msg/envelope.h) and queued on the peer's mailbox relays once
 * it waited queue_after_ns without a session (the peer may come back: a
 * live delivery is cheaper and gives receipts at once), or at once when
 * the peer said it went offline. Without a mailbox for the peer it waits
 * for a session. The onion rung (issue 17: when the sender asks for
 * anonymity) is not built; the ladder skips it.
 *
 * Engine rules: no I/O, no clock (callers pass now, CLOCK_MONOTONIC ns). */
#ifndef UM_MSG_LADDER_H
#define UM_MSG_LADDER_H

#include <stdbool.h>
#include <stdint.h>

enum um_ladder_rung {
	UM_LADDER_NONE = 0,
	UM_LADDER_DIRECT = 1,
	UM_LADDER_RELAY = 2,
	UM_LADDER_RELAY_TCP = 3,
	UM_LADDER_QUEUE = 4,
};

enum um_ladder_action {
	UM_LADDER_WAIT,    /* nothing yet: decide again at *deadline */
	UM_LADDER_LIVE,    /* write it to the live session (rung: the session's) */
	UM_LADDER_ENQUEUE, /* seal it and queue it on the peer's mailboxes */
};

/* What the node knows of the peer, now. */
struct um_ladder_peer {
	enum um_ladder_rung session; /* the live session's rung; NONE: no session */
	uint64_t no_session_since;   /* when the last session ended (or the node started) */
	bool said_offline;           /* its last presence was "offline" */
	bool has_mailbox;            /* a mailbox relay is known for it */
};

/* The action for a message stored at stored_at (not yet delivered, not
 * yet queued); *deadline (may be NULL) is when to decide again for WAIT,
 * UINT64_MAX when only a change of the peer's state can change it. */
enum um_ladder_action um_ladder_decide(const struct um_ladder_peer *peer, uint64_t queue_after_ns, uint64_t stored_at,
				       uint64_t now, uint64_t *deadline);

/* "direct", "relay", "relay-tcp", "queue", or "" for NONE/unknown. */
const char *um_ladder_rung_name(uint8_t rung);

#endif
