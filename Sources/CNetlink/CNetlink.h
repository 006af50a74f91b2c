// The parts of libnl-3 / libnl-route-3 and of the kernel's netlink UAPI that vlanwire uses.
#ifndef CNETLINK_H
#define CNETLINK_H

#include <netlink/netlink.h>
#include <netlink/attr.h>
#include <netlink/msg.h>
#include <netlink/socket.h>
#include <netlink/errno.h>
#include <netlink/handlers.h>
#include <netlink/route/link.h>
#include <netlink/route/link/bridge.h>
#include <netlink/route/link/vlan.h>

#include <linux/if.h>
#include <linux/if_bridge.h>
#include <linux/if_link.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>

#endif
