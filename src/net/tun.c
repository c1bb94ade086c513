/* SPDX-License-Identifier: MIT */
#include "net/tun.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/if_tun.h>
#include <linux/rtnetlink.h>
#include <netinet/in.h>
#include <stdint.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include "util/error.h"

int um_tun_open(const char *name, bool tap, unsigned offload, char *ifname_out, int *fd_out)
{
	struct ifreq ifr;
	int rc;
	*fd_out = -1;
	if (name && strlen(name) >= IFNAMSIZ)
		return -UM_EINVAL;
	int fd = open("/dev/net/tun", O_RDWR | O_NONBLOCK | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	memset(&ifr, 0, sizeof(ifr));
	ifr.ifr_flags = (short)((tap ? IFF_TAP : IFF_TUN) | IFF_NO_PI | IFF_MULTI_QUEUE | IFF_VNET_HDR);
	if (name)
		strncpy(ifr.ifr_name, name, IFNAMSIZ - 1);
	if (ioctl(fd, TUNSETIFF, &ifr) < 0)
		goto fail;
	int hdr_size = 10;
	if (ioctl(fd, TUNSETVNETHDRSZ, &hdr_size) < 0)
		goto fail;
	if (ioctl(fd, TUNSETOFFLOAD, (unsigned long)offload) < 0)
		goto fail;
	if (ifname_out) {
		memcpy(ifname_out, ifr.ifr_name, IFNAMSIZ);
		ifname_out[IFNAMSIZ - 1] = 0;
	}
	*fd_out = fd;
	return 0;
fail:
	rc = -errno;
	close(fd);
	return rc;
}

static int ifreq_ioctl(int family, unsigned long request, struct ifreq *ifr)
{
	int fd = socket(family, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	int rc = ioctl(fd, request, ifr) < 0 ? -errno : 0;
	close(fd);
	return rc;
}

static int fill_ifreq(struct ifreq *ifr, const char *ifname)
{
	memset(ifr, 0, sizeof(*ifr));
	if (strlen(ifname) >= IFNAMSIZ)
		return -UM_EINVAL;
	strncpy(ifr->ifr_name, ifname, IFNAMSIZ - 1);
	return 0;
}

int um_tun_set_mtu(const char *ifname, unsigned mtu)
{
	struct ifreq ifr;
	if (fill_ifreq(&ifr, ifname) < 0)
		return -UM_EINVAL;
	ifr.ifr_mtu = (int)mtu;
	return ifreq_ioctl(AF_INET, SIOCSIFMTU, &ifr);
}

int um_tun_set_txqueuelen(const char *ifname, unsigned qlen)
{
	struct ifreq ifr;
	if (fill_ifreq(&ifr, ifname) < 0)
		return -UM_EINVAL;
	ifr.ifr_qlen = (int)qlen;
	return ifreq_ioctl(AF_INET, SIOCSIFTXQLEN, &ifr);
}

int um_tun_set_up(const char *ifname, bool up)
{
	struct ifreq ifr;
	int rc;
	if (fill_ifreq(&ifr, ifname) < 0)
		return -UM_EINVAL;
	if ((rc = ifreq_ioctl(AF_INET, SIOCGIFFLAGS, &ifr)) < 0)
		return rc;
	if (up)
		ifr.ifr_flags |= IFF_UP;
	else
		ifr.ifr_flags &= ~IFF_UP;
	return ifreq_ioctl(AF_INET, SIOCSIFFLAGS, &ifr);
}

/* rtnetlink request: header + ifaddrmsg/rtmsg + attributes. */
struct nl_request {
	struct nlmsghdr nh;
	union {
		struct ifaddrmsg ifa;
		struct rtmsg rt;
	};
	uint8_t attrs[128];
};

static void nl_attr(struct nl_request *req, uint16_t type, const void *data, size_t len)
{
	struct rtattr *rta = (struct rtattr *)((uint8_t *)req + NLMSG_ALIGN(req->nh.nlmsg_len));
	rta->rta_type = type;
	rta->rta_len = (unsigned short)RTA_LENGTH(len);
	memcpy(RTA_DATA(rta), data, len);
	req->nh.nlmsg_len = NLMSG_ALIGN(req->nh.nlmsg_len) + RTA_ALIGN(rta->rta_len);
}

static int nl_talk(struct nl_request *req)
{
	int rc;
	int fd = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_ROUTE);
	if (fd < 0)
		return -errno;
	struct sockaddr_nl kernel = {.nl_family = AF_NETLINK};
	req->nh.nlmsg_flags |= NLM_F_REQUEST | NLM_F_ACK;
	req->nh.nlmsg_seq = 1;
	if (sendto(fd, req, req->nh.nlmsg_len, 0, (struct sockaddr *)&kernel, sizeof(kernel)) < 0) {
		rc = -errno;
		goto out;
	}
	union {
		uint8_t bytes[1024];
		struct nlmsghdr align;
	} reply;
	ssize_t n = recv(fd, reply.bytes, sizeof(reply.bytes), 0);
	if (n < 0) {
		rc = -errno;
		goto out;
	}
	struct nlmsghdr *nh = (struct nlmsghdr *)reply.bytes;
	rc = -UM_EINVAL;
	if (NLMSG_OK(nh, (size_t)n) && nh->nlmsg_type == NLMSG_ERROR) {
		struct nlmsgerr *err = NLMSG_DATA(nh);
		rc = err->error; /* 0 or -errno */
	}
out:
	close(fd);
	return rc;
}

static int address_or_route(const char *ifname, const struct um_addr_prefix *p, uint16_t type, uint16_t flags,
			    bool route)
{
	struct nl_request req;
	unsigned index = if_nametoindex(ifname);
	if (index == 0)
		return -errno;
	size_t alen = um_addr_family_bytes(p->family);
	memset(&req, 0, sizeof(req));
	req.nh.nlmsg_type = type;
	req.nh.nlmsg_flags = flags;
	if (route) {
		req.nh.nlmsg_len = NLMSG_LENGTH(sizeof(struct rtmsg));
		req.rt.rtm_family = (unsigned char)um_addr_family_to_af(p->family);
		req.rt.rtm_dst_len = p->len;
		req.rt.rtm_table = RT_TABLE_MAIN;
		req.rt.rtm_protocol = RTPROT_STATIC;
		req.rt.rtm_scope = RT_SCOPE_LINK;
		req.rt.rtm_type = RTN_UNICAST;
		nl_attr(&req, RTA_DST, p->addr, alen);
		uint32_t oif = index;
		nl_attr(&req, RTA_OIF, &oif, sizeof(oif));
	} else {
		req.nh.nlmsg_len = NLMSG_LENGTH(sizeof(struct ifaddrmsg));
		req.ifa.ifa_family = (unsigned char)um_addr_family_to_af(p->family);
		req.ifa.ifa_prefixlen = p->len;
		req.ifa.ifa_index = index;
		nl_attr(&req, IFA_LOCAL, p->addr, alen);
		nl_attr(&req, IFA_ADDRESS, p->addr, alen);
	}
	return nl_talk(&req);
}

int um_tun_add_address(const char *ifname, const struct um_addr_prefix *address)
{
	if (!um_addr_family_bytes(address->family))
		return -UM_EINVAL;
	return address_or_route(ifname, address, RTM_NEWADDR, NLM_F_CREATE | NLM_F_REPLACE, false);
}

int um_tun_add_route(const char *ifname, const struct um_addr_prefix *prefix)
{
	if (!um_addr_family_bytes(prefix->family))
		return -UM_EINVAL;
	return address_or_route(ifname, prefix, RTM_NEWROUTE, NLM_F_CREATE | NLM_F_REPLACE, true);
}

int um_tun_del_route(const char *ifname, const struct um_addr_prefix *prefix)
{
	if (!um_addr_family_bytes(prefix->family))
		return -UM_EINVAL;
	return address_or_route(ifname, prefix, RTM_DELROUTE, 0, true);
}
