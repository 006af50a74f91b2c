// What libnl 3.7 cannot express and Swift cannot import: AF_BRIDGE port VLAN messages, the bridge
// master options (IFLA_INFO_DATA of kind "bridge"), the kernel's extended ACK text, attribute
// policies (sparse C arrays), and a one-pass reader of link messages where libnl's parser was the
// cost of a dump. Every function says why it exists; everything else is libnl itself.
#ifndef CNETLINK_SHIMS_H
#define CNETLINK_SHIMS_H

#include <stddef.h>
#include <stdint.h>

#include <linux/if_link.h>
#include <linux/netlink.h>
#include <netlink/attr.h>
#include <netlink/msg.h>

/// One entry of a port VLAN message: `first...last` sharing `flags` (BRIDGE_VLAN_INFO_PVID and/or
/// BRIDGE_VLAN_INFO_UNTAGGED). `first == last` is a lone VLAN.
struct cnetlink_vlan_range {
    uint16_t first;
    uint16_t last;
    uint16_t flags;
};

/// Why: libnl 3.7 can only read port VLANs (as bitmaps, from an uncompressed dump); it cannot
/// build the change. Builds what iproute2's bridge/vlan.c vlan_modify() sends, for any number of
/// ranges in ONE message: `command` RTM_SETLINK (add) or RTM_DELLINK (delete), family AF_BRIDGE,
/// ifinfomsg for `port_index`, IFLA_AF_SPEC { [IFLA_BRIDGE_FLAGS BRIDGE_FLAGS_SELF when `self`:
/// the bridge device's own VLANs, `bridge vlan ... self`], IFLA_BRIDGE_VLAN_INFO ... } with
/// BRIDGE_VLAN_INFO_RANGE_BEGIN/END pairs for ranges. The kernel refuses PVID on a range: callers
/// give the PVID as a lone entry. On success `*result` is a message the caller frees (nlmsg_free).
int cnetlink_bridge_vlan_request(int command, int port_index, int self, const struct cnetlink_vlan_range *ranges,
                                 size_t count, struct nl_msg **result);

/// Why: the compressed dump (RTEXT_FILTER_BRVLAN_COMPRESSED) sends RANGE_BEGIN/RANGE_END pairs that
/// must be paired up in order, which Swift cannot do with libnl's nla_for_each_nested macro.
/// Reads IFLA_AF_SPEC of an AF_BRIDGE link message into `ranges` (up to `capacity`), flags reduced to
/// PVID/UNTAGGED. Returns the number of ranges present (call again with more room when it exceeds
/// `capacity`), or a negative libnl error (-NLE_INVAL) for a malformed nest.
long cnetlink_bridge_vlan_parse(const struct nlattr *af_spec, struct cnetlink_vlan_range *ranges,
                                size_t capacity);

/// Bridge master options vlanwire sets and reads. `present` says which fields are set/reported.
enum cnetlink_bridge_option {
    CNETLINK_BRIDGE_STP_STATE = 1 << 0,
    CNETLINK_BRIDGE_FORWARD_DELAY = 1 << 1,
    CNETLINK_BRIDGE_VLAN_FILTERING = 1 << 2,
    CNETLINK_BRIDGE_NF_CALL_IPTABLES = 1 << 3,
    CNETLINK_BRIDGE_NF_CALL_IP6TABLES = 1 << 4,
    CNETLINK_BRIDGE_NF_CALL_ARPTABLES = 1 << 5,
    /// The kernel reports IFLA_BR_VLAN_DEFAULT_PVID only when built with
    /// CONFIG_BRIDGE_VLAN_FILTERING, so its presence proves VLAN filtering support. Written by
    /// vlanwire to close a bridge (0: joining ports get no VLAN).
    CNETLINK_BRIDGE_VLAN_DEFAULT_PVID = 1 << 6,
};

struct cnetlink_bridge_options {
    uint32_t present;
    uint32_t stp_state;
    /// Hundredths of a second (clock_t at USER_HZ 100), as `ip -d link` prints it.
    uint32_t forward_delay;
    uint8_t vlan_filtering;
    uint8_t nf_call_iptables;
    uint8_t nf_call_ip6tables;
    uint8_t nf_call_arptables;
    uint16_t vlan_default_pvid;
};

/// Why: libnl 3.7's bridge link type writes only IFLA_INFO_KIND; it has no IFLA_BR_* options.
/// Builds RTM_NEWLINK (family AF_UNSPEC) with IFLA_LINKINFO { IFLA_INFO_KIND "bridge",
/// IFLA_INFO_DATA { IFLA_BR_* of `options` } }, as iproute2's ip/iplink_bridge.c does. The bridge
/// is `ifindex`, or when that is 0, `name` (IFLA_IFNAME). With `nlm_flags` NLM_F_CREATE|NLM_F_EXCL
/// it creates the bridge (the kernel applies the options in the create message); with no flags it
/// changes an existing one.
int cnetlink_bridge_options_request(int ifindex, const char *name, int nlm_flags,
                                    const struct cnetlink_bridge_options *options, struct nl_msg **result);

/// Why: libnl 3.7 ignores IFLA_INFO_DATA of bridges when parsing links.
/// Reads the options above from a bridge's IFLA_INFO_DATA nest; fields not reported stay absent.
void cnetlink_bridge_options_parse(const struct nlattr *info_data, struct cnetlink_bridge_options *options);

/// What vlanwire reads of one RTM_NEWLINK message. Strings point into the message (valid while it
/// is); `present` says which of the optional fields were reported.
enum cnetlink_link_field {
    CNETLINK_LINK_MTU = 1 << 0,
    CNETLINK_LINK_MASTER = 1 << 1,
    CNETLINK_LINK_LOWER = 1 << 2,
    CNETLINK_LINK_OPERSTATE = 1 << 3,
    CNETLINK_LINK_ADDRESS = 1 << 4,
    CNETLINK_LINK_VLAN_ID = 1 << 5,
    CNETLINK_LINK_PORT_STATE = 1 << 6,
};

struct cnetlink_link {
    uint32_t present;
    int32_t index;
    uint32_t flags;
    const char *name;
    const char *alias;
    const char *kind;
    const char *slave_kind;
    uint32_t mtu;
    uint32_t master;
    uint32_t lower;
    uint8_t operstate;
    uint8_t address[6];
    uint16_t vlan_id;
    uint8_t port_state;
    /// IFLA_INFO_DATA (bridge options: cnetlink_bridge_options_parse), or NULL.
    const struct nlattr *info_data;
};

/// Why: libnl's nlmsg_parse checks every attribute of a link message against a policy table of
/// IFLA_MAX entries, and its nested parses do the same for IFLA_LINKINFO and a port's slave data:
/// a dump of 800 taps spent 12 M instructions there, half of a hook run on such a host
/// (BENCHMARKS.md). This reads the attributes vlanwire uses in one pass, with the same checks
/// (fixed sizes, strings NUL-terminated within their bound), and skips the rest unread.
/// Returns 0, or -1 for a message that is not a well-formed RTM_NEWLINK (no name included).
int cnetlink_link_read(const struct nlmsghdr *header, struct cnetlink_link *link);

/// Why: libnl 3.7 has no NETLINK_EXT_ACK support and hands error callbacks only the nlmsgerr
/// payload. Returns the kernel's NLMSGERR_ATTR_MSG text ("Unknown device type") that follows
/// `error` in its NLMSG_ERROR message, or NULL. Needs NETLINK_EXT_ACK set on the socket.
const char *cnetlink_extack_message(const struct nlmsgerr *error);

/// Why: the kernel's *_MAX values are macros over enums, which Swift does not import.
static const int CNETLINK_IFLA_MAX = IFLA_MAX;

/// Why: setns() and CLONE_NEWNET need _GNU_SOURCE, which Swift's Glibc module does not define.
/// Moves the calling thread into the network namespace open at `fd`; returns 0 or -1 with errno.
int cnetlink_enter_network_namespace(int fd);

/// Why: a sparse C array (designated initializers) that Swift cannot spell. Policy for
/// nlmsg_parse of an RTM_NEWLINK message, IFLA_MAX + 1 entries: checks sizes and NUL-terminated names.
const struct nla_policy *cnetlink_link_policy(void);

#endif
