/* SPDX-License-Identifier: MIT */
/* TUN (L3) and TAP (L2) devices: open queues, configure MTU, addresses,
 * routes, queue length and link state. Every queue is opened with
 * IFF_NO_PI | IFF_MULTI_QUEUE | IFF_VNET_HDR and identical flags (pitfall 7:
 * the last TUNSETIFF sets the device-wide vnet flag). The device is not
 * persistent: it disappears when its last queue is closed.
 * Configuration uses ioctl (MTU, IPv4/IPv6 addresses, flags, txqueuelen) and
 * rtnetlink (routes). All need CAP_NET_ADMIN. */
#ifndef UM_NET_TUN_H
#define UM_NET_TUN_H

#include <net/if.h>
#include <stdbool.h>

#include "util/addr.h" /* struct um_addr_prefix */

/* Open one queue of device name (created if absent; "" or NULL lets the
 * kernel pick "tunN"/"tapN"). offload: UM_TUN_F_* flags for TUNSETOFFLOAD
 * (0 = none). ifname_out (IFNAMSIZ bytes) receives the real name. The fd is
 * non-blocking and close-on-exec; the caller owns it. */
int um_tun_open(const char *name, bool tap, unsigned offload, char *ifname_out, int *fd_out);

int um_tun_set_mtu(const char *ifname, unsigned mtu);
int um_tun_set_txqueuelen(const char *ifname, unsigned qlen);
int um_tun_set_up(const char *ifname, bool up);
/* Interface address with its prefix length ("100.64.0.1/10", "fd00::1/64"). */
int um_tun_add_address(const char *ifname, const struct um_addr_prefix *address);
/* Route prefix to the device (main table, replaces an existing route). */
int um_tun_add_route(const char *ifname, const struct um_addr_prefix *prefix);
int um_tun_del_route(const char *ifname, const struct um_addr_prefix *prefix);

#endif
