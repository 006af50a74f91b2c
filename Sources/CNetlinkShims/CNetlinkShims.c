#define _GNU_SOURCE
#include "CNetlinkShims.h"

#include <errno.h>
#include <sched.h>
#include <string.h>
#include <sys/socket.h>

#include <linux/if.h>
#include <linux/if_bridge.h>
#include <linux/rtnetlink.h>
#include <netlink/errno.h>

static int put_vlan_info(struct nl_msg *msg, uint16_t vid, uint16_t flags) {
    struct bridge_vlan_info info = {.flags = flags, .vid = vid};
    return nla_put(msg, IFLA_BRIDGE_VLAN_INFO, sizeof(info), &info);
}

int cnetlink_bridge_vlan_request(int command, int port_index, int self, const struct cnetlink_vlan_range *ranges,
                                 size_t count, struct nl_msg **result) {
    if (command != RTM_SETLINK && command != RTM_DELLINK) return -NLE_INVAL;
    // Exact size: a range is two 8-byte attributes, a lone VLAN one; no page-size surprise for
    // ports with thousands of ranges.
    size_t size = NLMSG_HDRLEN + NLMSG_ALIGN(sizeof(struct ifinfomsg)) + NLA_HDRLEN
        + (self ? nla_total_size(sizeof(uint16_t)) : 0);
    for (size_t i = 0; i < count; i++) {
        size += (ranges[i].first == ranges[i].last ? 1 : 2) * nla_total_size(sizeof(struct bridge_vlan_info));
    }
    struct nl_msg *msg = nlmsg_alloc_size(size + NLMSG_ALIGNTO);
    if (msg == NULL) return -NLE_NOMEM;
    if (nlmsg_put(msg, NL_AUTO_PORT, NL_AUTO_SEQ, command, 0, 0) == NULL) goto full;

    struct ifinfomsg header = {.ifi_family = AF_BRIDGE, .ifi_index = port_index};
    if (nlmsg_append(msg, &header, sizeof(header), NLMSG_ALIGNTO) < 0) goto full;

    struct nlattr *af_spec = nla_nest_start(msg, IFLA_AF_SPEC);
    if (af_spec == NULL) goto full;
    if (self && nla_put_u16(msg, IFLA_BRIDGE_FLAGS, BRIDGE_FLAGS_SELF) < 0) goto full;
    for (size_t i = 0; i < count; i++) {
        const struct cnetlink_vlan_range *range = &ranges[i];
        uint16_t flags = range->flags & (BRIDGE_VLAN_INFO_PVID | BRIDGE_VLAN_INFO_UNTAGGED);
        if (range->first == 0 || range->first > range->last || range->last > 4094) goto invalid;
        if (range->first == range->last) {
            if (put_vlan_info(msg, range->first, flags) < 0) goto full;
        } else {
            if (flags & BRIDGE_VLAN_INFO_PVID) goto invalid;
            if (put_vlan_info(msg, range->first, flags | BRIDGE_VLAN_INFO_RANGE_BEGIN) < 0) goto full;
            if (put_vlan_info(msg, range->last, flags | BRIDGE_VLAN_INFO_RANGE_END) < 0) goto full;
        }
    }
    nla_nest_end(msg, af_spec);
    *result = msg;
    return 0;

invalid:
    nlmsg_free(msg);
    return -NLE_INVAL;
full:
    nlmsg_free(msg);
    return -NLE_NOMEM;
}

long cnetlink_bridge_vlan_parse(const struct nlattr *af_spec, struct cnetlink_vlan_range *ranges,
                                size_t capacity) {
    size_t count = 0;
    int open_range = 0;
    struct bridge_vlan_info begin = {0};
    const struct nlattr *attribute;
    int remaining;
    nla_for_each_nested(attribute, af_spec, remaining) {
        if (nla_type(attribute) != IFLA_BRIDGE_VLAN_INFO) continue;
        if (nla_len(attribute) < (int)sizeof(struct bridge_vlan_info)) return -NLE_INVAL;
        struct bridge_vlan_info info;
        memcpy(&info, nla_data(attribute), sizeof(info));
        if (info.flags & BRIDGE_VLAN_INFO_RANGE_BEGIN) {
            if (open_range) return -NLE_INVAL;
            begin = info;
            open_range = 1;
            continue;
        }
        struct cnetlink_vlan_range range = {.first = info.vid, .last = info.vid};
        if (info.flags & BRIDGE_VLAN_INFO_RANGE_END) {
            if (!open_range || begin.vid > info.vid) return -NLE_INVAL;
            range.first = begin.vid;
            open_range = 0;
        } else if (open_range) {
            return -NLE_INVAL;
        }
        range.flags = info.flags & (BRIDGE_VLAN_INFO_PVID | BRIDGE_VLAN_INFO_UNTAGGED);
        if (count < capacity) ranges[count] = range;
        count++;
    }
    return open_range ? -NLE_INVAL : (long)count;
}

int cnetlink_bridge_options_request(int ifindex, const char *name, int nlm_flags,
                                    const struct cnetlink_bridge_options *options, struct nl_msg **result) {
    struct nl_msg *msg = nlmsg_alloc_simple(RTM_NEWLINK, nlm_flags);
    if (msg == NULL) return -NLE_NOMEM;
    struct ifinfomsg header = {.ifi_family = AF_UNSPEC, .ifi_index = ifindex};
    if (nlmsg_append(msg, &header, sizeof(header), NLMSG_ALIGNTO) < 0) goto full;
    if (name != NULL && nla_put_string(msg, IFLA_IFNAME, name) < 0) goto full;

    struct nlattr *link_info = nla_nest_start(msg, IFLA_LINKINFO);
    if (link_info == NULL || nla_put_string(msg, IFLA_INFO_KIND, "bridge") < 0) goto full;
    struct nlattr *data = nla_nest_start(msg, IFLA_INFO_DATA);
    if (data == NULL) goto full;
    // The kernel (br_changelink) applies FORWARD_DELAY before STP_STATE; order here does not matter.
    uint32_t present = options->present;
    if ((present & CNETLINK_BRIDGE_FORWARD_DELAY) &&
        nla_put_u32(msg, IFLA_BR_FORWARD_DELAY, options->forward_delay) < 0) goto full;
    if ((present & CNETLINK_BRIDGE_STP_STATE) && nla_put_u32(msg, IFLA_BR_STP_STATE, options->stp_state) < 0)
        goto full;
    if ((present & CNETLINK_BRIDGE_VLAN_FILTERING) &&
        nla_put_u8(msg, IFLA_BR_VLAN_FILTERING, options->vlan_filtering) < 0) goto full;
    if ((present & CNETLINK_BRIDGE_NF_CALL_IPTABLES) &&
        nla_put_u8(msg, IFLA_BR_NF_CALL_IPTABLES, options->nf_call_iptables) < 0) goto full;
    if ((present & CNETLINK_BRIDGE_NF_CALL_IP6TABLES) &&
        nla_put_u8(msg, IFLA_BR_NF_CALL_IP6TABLES, options->nf_call_ip6tables) < 0) goto full;
    if ((present & CNETLINK_BRIDGE_NF_CALL_ARPTABLES) &&
        nla_put_u8(msg, IFLA_BR_NF_CALL_ARPTABLES, options->nf_call_arptables) < 0) goto full;
    if ((present & CNETLINK_BRIDGE_VLAN_DEFAULT_PVID) &&
        nla_put_u16(msg, IFLA_BR_VLAN_DEFAULT_PVID, options->vlan_default_pvid) < 0) goto full;
    nla_nest_end(msg, data);
    nla_nest_end(msg, link_info);
    *result = msg;
    return 0;

full:
    nlmsg_free(msg);
    return -NLE_NOMEM;
}

void cnetlink_bridge_options_parse(const struct nlattr *info_data, struct cnetlink_bridge_options *options) {
    static struct nla_policy policy[IFLA_BR_MAX + 1] = {
        [IFLA_BR_FORWARD_DELAY] = {.type = NLA_U32},
        [IFLA_BR_STP_STATE] = {.type = NLA_U32},
        [IFLA_BR_VLAN_FILTERING] = {.type = NLA_U8},
        [IFLA_BR_NF_CALL_IPTABLES] = {.type = NLA_U8},
        [IFLA_BR_NF_CALL_IP6TABLES] = {.type = NLA_U8},
        [IFLA_BR_NF_CALL_ARPTABLES] = {.type = NLA_U8},
        [IFLA_BR_VLAN_DEFAULT_PVID] = {.type = NLA_U16},
    };
    struct nlattr *tb[IFLA_BR_MAX + 1];
    memset(options, 0, sizeof(*options));
    if (nla_parse_nested(tb, IFLA_BR_MAX, (struct nlattr *)info_data, policy) < 0) return;
    if (tb[IFLA_BR_FORWARD_DELAY]) {
        options->present |= CNETLINK_BRIDGE_FORWARD_DELAY;
        options->forward_delay = nla_get_u32(tb[IFLA_BR_FORWARD_DELAY]);
    }
    if (tb[IFLA_BR_STP_STATE]) {
        options->present |= CNETLINK_BRIDGE_STP_STATE;
        options->stp_state = nla_get_u32(tb[IFLA_BR_STP_STATE]);
    }
    if (tb[IFLA_BR_VLAN_FILTERING]) {
        options->present |= CNETLINK_BRIDGE_VLAN_FILTERING;
        options->vlan_filtering = nla_get_u8(tb[IFLA_BR_VLAN_FILTERING]);
    }
    if (tb[IFLA_BR_NF_CALL_IPTABLES]) {
        options->present |= CNETLINK_BRIDGE_NF_CALL_IPTABLES;
        options->nf_call_iptables = nla_get_u8(tb[IFLA_BR_NF_CALL_IPTABLES]);
    }
    if (tb[IFLA_BR_NF_CALL_IP6TABLES]) {
        options->present |= CNETLINK_BRIDGE_NF_CALL_IP6TABLES;
        options->nf_call_ip6tables = nla_get_u8(tb[IFLA_BR_NF_CALL_IP6TABLES]);
    }
    if (tb[IFLA_BR_NF_CALL_ARPTABLES]) {
        options->present |= CNETLINK_BRIDGE_NF_CALL_ARPTABLES;
        options->nf_call_arptables = nla_get_u8(tb[IFLA_BR_NF_CALL_ARPTABLES]);
    }
    if (tb[IFLA_BR_VLAN_DEFAULT_PVID]) {
        options->present |= CNETLINK_BRIDGE_VLAN_DEFAULT_PVID;
        options->vlan_default_pvid = nla_get_u16(tb[IFLA_BR_VLAN_DEFAULT_PVID]);
    }
}

/// Attributes walked as libnl's nla_ok/nla_next walk them (an attribute running past the end ends
/// the walk), inline: a dump's hundreds of messages make a call per attribute count.
#define CNETLINK_EACH_ATTRIBUTE(attribute, head, length, remaining)                                         \
    for (attribute = (head), remaining = (length);                                                         \
         remaining >= (int)NLA_HDRLEN && attribute->nla_len >= NLA_HDRLEN && attribute->nla_len <= remaining; \
         remaining -= NLA_ALIGN(attribute->nla_len),                                                         \
        attribute = (const struct nlattr *)((const char *)attribute + NLA_ALIGN(attribute->nla_len)))

static inline int cnetlink_type(const struct nlattr *attribute) { return attribute->nla_type & NLA_TYPE_MASK; }
static inline int cnetlink_length(const struct nlattr *attribute) { return attribute->nla_len - NLA_HDRLEN; }
static inline const char *cnetlink_payload(const struct nlattr *attribute) { return (const char *)attribute + NLA_HDRLEN; }

/// A fixed-size value of at least `size` bytes into `value`; 0, or -1 when the attribute is shorter.
static inline int cnetlink_value(const struct nlattr *attribute, void *value, int size) {
    if (cnetlink_length(attribute) < size) return -1;
    memcpy(value, cnetlink_payload(attribute), size);
    return 0;
}

/// A NUL-terminated string attribute of at most `bound` bytes (0: any), or NULL when malformed.
static const char *cnetlink_string(const struct nlattr *attribute, int bound) {
    int length = cnetlink_length(attribute);
    if (length < 1 || (bound > 0 && length > bound)) return NULL;
    const char *text = cnetlink_payload(attribute);
    return text[length - 1] == '\0' ? text : NULL;
}

/// The attributes nested in `nest`.
#define CNETLINK_EACH_NESTED(attribute, nest, remaining) \
    CNETLINK_EACH_ATTRIBUTE(attribute, (const struct nlattr *)cnetlink_payload(nest), cnetlink_length(nest), remaining)

/// Reads a link's IFLA_LINKINFO nest; -1 when a field vlanwire reads is malformed.
static int cnetlink_link_info_read(const struct nlattr *info, struct cnetlink_link *link) {
    const struct nlattr *attribute;
    const struct nlattr *slave_data = NULL;
    int remaining;
    CNETLINK_EACH_NESTED(attribute, info, remaining) {
        switch (cnetlink_type(attribute)) {
        case IFLA_INFO_KIND:
            if (!(link->kind = cnetlink_string(attribute, 0))) return -1;
            break;
        case IFLA_INFO_SLAVE_KIND:
            if (!(link->slave_kind = cnetlink_string(attribute, 0))) return -1;
            break;
        case IFLA_INFO_DATA: link->info_data = attribute; break;
        case IFLA_INFO_SLAVE_DATA: slave_data = attribute; break;
        }
    }
    if (link->kind && link->info_data && strcmp(link->kind, "vlan") == 0) {
        CNETLINK_EACH_NESTED(attribute, link->info_data, remaining) {
            if (cnetlink_type(attribute) != IFLA_VLAN_ID) continue;
            if (cnetlink_value(attribute, &link->vlan_id, 2) < 0) return -1;
            link->present |= CNETLINK_LINK_VLAN_ID;
        }
    }
    if (link->slave_kind && slave_data && strcmp(link->slave_kind, "bridge") == 0) {
        CNETLINK_EACH_NESTED(attribute, slave_data, remaining) {
            if (cnetlink_type(attribute) != IFLA_BRPORT_STATE) continue;
            if (cnetlink_value(attribute, &link->port_state, 1) < 0) return -1;
            link->present |= CNETLINK_LINK_PORT_STATE;
        }
    }
    return 0;
}

int cnetlink_link_read(const struct nlmsghdr *header, struct cnetlink_link *link) {
    memset(link, 0, sizeof(*link));
    if (header->nlmsg_type != RTM_NEWLINK || nlmsg_datalen(header) < (int)sizeof(struct ifinfomsg)) return -1;
    const struct ifinfomsg *info = nlmsg_data(header);
    link->index = info->ifi_index;
    link->flags = info->ifi_flags;
    const struct nlattr *attribute;
    int remaining;
    CNETLINK_EACH_ATTRIBUTE(attribute, nlmsg_attrdata(header, sizeof(struct ifinfomsg)),
                            nlmsg_attrlen(header, sizeof(struct ifinfomsg)), remaining) {
        switch (cnetlink_type(attribute)) {
        case IFLA_IFNAME:
            if (!(link->name = cnetlink_string(attribute, IFNAMSIZ))) return -1;
            break;
        case IFLA_IFALIAS:
            if (!(link->alias = cnetlink_string(attribute, IFALIASZ))) return -1;
            break;
        case IFLA_MTU:
            if (cnetlink_value(attribute, &link->mtu, 4) < 0) return -1;
            link->present |= CNETLINK_LINK_MTU;
            break;
        case IFLA_MASTER:
            if (cnetlink_value(attribute, &link->master, 4) < 0) return -1;
            link->present |= CNETLINK_LINK_MASTER;
            break;
        case IFLA_LINK:
            if (cnetlink_value(attribute, &link->lower, 4) < 0) return -1;
            link->present |= CNETLINK_LINK_LOWER;
            break;
        case IFLA_OPERSTATE:
            if (cnetlink_value(attribute, &link->operstate, 1) < 0) return -1;
            link->present |= CNETLINK_LINK_OPERSTATE;
            break;
        case IFLA_ADDRESS:
            if (cnetlink_length(attribute) == 6) {
                memcpy(link->address, cnetlink_payload(attribute), 6);
                link->present |= CNETLINK_LINK_ADDRESS;
            }
            break;
        case IFLA_LINKINFO:
            if (cnetlink_link_info_read(attribute, link) < 0) return -1;
            break;
        }
    }
    return link->name ? 0 : -1;
}

const char *cnetlink_extack_message(const struct nlmsgerr *error) {
    // libnl's error callback gets a pointer into the received NLMSG_ERROR message, just past its header.
    const struct nlmsghdr *header = (const struct nlmsghdr *)((const char *)error - NLMSG_HDRLEN);
    if (!(header->nlmsg_flags & NLM_F_ACK_TLVS)) return NULL;
    size_t payload = sizeof(*error);
    if (!(header->nlmsg_flags & NLM_F_CAPPED)) payload += error->msg.nlmsg_len - NLMSG_HDRLEN;
    size_t offset = NLMSG_HDRLEN + NLMSG_ALIGN(payload);
    if (offset >= header->nlmsg_len) return NULL;

    static struct nla_policy policy[NLMSGERR_ATTR_MAX + 1] = {
        [NLMSGERR_ATTR_MSG] = {.type = NLA_STRING},
    };
    struct nlattr *tb[NLMSGERR_ATTR_MAX + 1];
    if (nla_parse(tb, NLMSGERR_ATTR_MAX, (struct nlattr *)((const char *)header + offset),
                  (int)(header->nlmsg_len - offset), policy) < 0) return NULL;
    return tb[NLMSGERR_ATTR_MSG] ? nla_get_string(tb[NLMSGERR_ATTR_MSG]) : NULL;
}

const struct nla_policy *cnetlink_link_policy(void) {
    static struct nla_policy policy[IFLA_MAX + 1] = {
        [IFLA_IFNAME] = {.type = NLA_STRING, .maxlen = IFNAMSIZ},
        [IFLA_IFALIAS] = {.type = NLA_STRING, .maxlen = IFALIASZ},
        [IFLA_MTU] = {.type = NLA_U32},
        [IFLA_LINK] = {.type = NLA_U32},
        [IFLA_MASTER] = {.type = NLA_U32},
        [IFLA_OPERSTATE] = {.type = NLA_U8},
        [IFLA_LINKINFO] = {.type = NLA_NESTED},
        [IFLA_AF_SPEC] = {.type = NLA_NESTED},
    };
    return policy;
}

int cnetlink_enter_network_namespace(int fd) {
    return setns(fd, CLONE_NEWNET);
}
