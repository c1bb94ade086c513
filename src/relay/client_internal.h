/* SPDX-License-Identifier: MIT */
/* Shared by the relay client's three parts: client.c (timers, lifecycle,
 * registration), client_input.c (datagrams from the relays) and
 * client_state.c (uplink states, events, restart, home and backup), which
 * the other two call and which calls neither. */
#ifndef UM_RELAY_CLIENT_INTERNAL_H
#define UM_RELAY_CLIENT_INTERNAL_H

#include "relay/client.h"

void um_relay_client_session_wipe(struct um_relay_client_session *s);
/* Queues an event for the next tick; the entry is returned for details
 * (the overflow entry when the queue is full: the event is counted and lost). */
struct um_relay_client_event_entry *um_relay_client_push_event(struct um_relay_client *c,
							       enum um_relay_client_event type, unsigned uplink);
/* The one state setter: an illegal change is refused (-UM_ESTATE) and counted. */
int um_relay_client_set_state(struct um_relay_client *c, unsigned i, enum um_relay_client_state to);
void um_relay_client_choose_home(struct um_relay_client *c, uint64_t now);
/* Another registered uplink reaches uplink i's relay and goes first. */
bool um_relay_client_twin_registered(const struct um_relay_client *c, unsigned i);
/* Uplink i registers from scratch (sessions dropped), due now. */
void um_relay_client_restart(struct um_relay_client *c, unsigned i, uint64_t now);
/* The handshake engine's (fixed, made-up) address for uplink i's relay. */
void um_relay_client_uplink_addr(unsigned i, struct um_addr *a);
/* Copies the engine's datagrams (o) into dst, each wrapped in
 * RELAY_HANDSHAKE; returns how many. */
unsigned um_relay_client_wrap(const struct um_handshake_output *o, uint8_t (*dst)[UM_RELAY_CLIENT_DATAGRAM_BYTES],
			      uint16_t *lengths);
/* Acts on the event in c->hs_out for uplink i (ESTABLISHED: `next` takes
 * the keys and a REGISTER is due; FAILED: the next attempt is due). */
void um_relay_client_hs_event(struct um_relay_client *c, unsigned i, uint64_t now);
/* Drops uplink i's initiation in flight (its engine peer is made anew). */
void um_relay_client_abort_handshake(struct um_relay_client *c, unsigned i);

#endif
