/* SPDX-License-Identifier: MIT */
/* The delivery ladder (ladder.h). */
#include "msg/ladder.h"

enum um_ladder_action um_ladder_decide(const struct um_ladder_peer *peer, uint64_t queue_after_ns, uint64_t stored_at,
				       uint64_t now, uint64_t *deadline)
{
	uint64_t from, due;

	if (deadline)
		*deadline = UINT64_MAX;
	if (peer->session != UM_LADDER_NONE)
		return UM_LADDER_LIVE;
	if (!peer->has_mailbox)
		return UM_LADDER_WAIT; /* until a session comes */
	if (peer->said_offline)
		return UM_LADDER_ENQUEUE;
	/* Waited long enough since both the message was stored and the last
	 * session ended (a message written to a session that then broke is
	 * queued queue_after_ns after the break). */
	from = stored_at > peer->no_session_since ? stored_at : peer->no_session_since;
	due = from + queue_after_ns < from ? UINT64_MAX : from + queue_after_ns;
	if (now >= due)
		return UM_LADDER_ENQUEUE;
	if (deadline)
		*deadline = due;
	return UM_LADDER_WAIT;
}

const char *um_ladder_rung_name(uint8_t rung)
{
	switch (rung) {
	case UM_LADDER_DIRECT:
		return "direct";
	case UM_LADDER_RELAY:
		return "relay";
	case UM_LADDER_RELAY_TCP:
		return "relay-tcp";
	case UM_LADDER_QUEUE:
		return "queue";
	default:
		return "";
	}
}
