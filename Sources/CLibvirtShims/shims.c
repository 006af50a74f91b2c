#include "CLibvirtShims.h"

#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static struct clibvirt_functions table;

// Why: libvirt's default error handler prints every error to stderr ("libvirt: ... error : ..."),
// even those vlanwire expects and handles (a domain without vlanwire metadata). Swift reads each
// error with virGetLastError instead.
static void clibvirt_ignore_error(void *userData, virErrorPtr error) {
    (void)userData;
    (void)error;
}

int clibvirt_load(char *errbuf, size_t len) {
    // libvirt.so.0, not libvirt.so: the unversioned name exists only with libvirt-dev installed.
    static const char library[] = "libvirt.so.0";
    void *handle = dlopen(library, RTLD_NOW | RTLD_LOCAL);
    if (handle == NULL) {
        const char *reason = dlerror();
        // Only "libvirt.so.0: cannot open ...: No such file" means libvirt itself is absent; a
        // missing dependency of libvirt names that dependency, and keeps dlerror's text.
        if (reason != NULL && strncmp(reason, library, sizeof library - 1) == 0
            && strstr(reason, "No such file") != NULL) {
            snprintf(errbuf, len, "libvirt is not installed (libvirt0)");
        } else {
            snprintf(errbuf, len, "cannot load %s: %s", library, reason != NULL ? reason : "unknown error");
        }
        return -1;
    }

#define CLIBVIRT_RESOLVE(name)                                                                     \
    do {                                                                                           \
        table.name = (__typeof__(table.name))dlsym(handle, #name);                                 \
        if (table.name == NULL) {                                                                  \
            snprintf(errbuf, len, "%s has no %s (libvirt too old?)", library, #name);              \
            dlclose(handle);                                                                       \
            return -1;                                                                             \
        }                                                                                          \
    } while (0)

    CLIBVIRT_RESOLVE(virGetLastError);
    CLIBVIRT_RESOLVE(virSetErrorFunc);
    CLIBVIRT_RESOLVE(virConnectOpen);
    CLIBVIRT_RESOLVE(virConnectClose);
    CLIBVIRT_RESOLVE(virConnectGetLibVersion);
    CLIBVIRT_RESOLVE(virConnectListAllDomains);
    CLIBVIRT_RESOLVE(virDomainLookupByName);
    CLIBVIRT_RESOLVE(virDomainLookupByUUIDString);
    CLIBVIRT_RESOLVE(virDomainFree);
    CLIBVIRT_RESOLVE(virDomainGetName);
    CLIBVIRT_RESOLVE(virDomainGetUUIDString);
    CLIBVIRT_RESOLVE(virDomainIsActive);
    CLIBVIRT_RESOLVE(virDomainGetXMLDesc);
    CLIBVIRT_RESOLVE(virDomainGetMetadata);
    CLIBVIRT_RESOLVE(virDomainSetMetadata);
    CLIBVIRT_RESOLVE(virConnectListAllNetworks);
    CLIBVIRT_RESOLVE(virNetworkDefineXML);
    CLIBVIRT_RESOLVE(virNetworkLookupByName);
    CLIBVIRT_RESOLVE(virNetworkFree);
    CLIBVIRT_RESOLVE(virNetworkGetName);
    CLIBVIRT_RESOLVE(virNetworkGetUUIDString);
    CLIBVIRT_RESOLVE(virNetworkGetXMLDesc);
    CLIBVIRT_RESOLVE(virNetworkUndefine);
    CLIBVIRT_RESOLVE(virNetworkCreate);
    CLIBVIRT_RESOLVE(virNetworkDestroy);
    CLIBVIRT_RESOLVE(virNetworkGetAutostart);
    CLIBVIRT_RESOLVE(virNetworkSetAutostart);
    CLIBVIRT_RESOLVE(virNetworkIsActive);
    CLIBVIRT_RESOLVE(virNetworkIsPersistent);
    CLIBVIRT_RESOLVE(virEventRegisterDefaultImpl);
    CLIBVIRT_RESOLVE(virEventRunDefaultImpl);
    CLIBVIRT_RESOLVE(virConnectDomainEventRegisterAny);
    CLIBVIRT_RESOLVE(virConnectDomainEventDeregisterAny);
    CLIBVIRT_RESOLVE(virConnectRegisterCloseCallback);
    CLIBVIRT_RESOLVE(virConnectUnregisterCloseCallback);
    CLIBVIRT_RESOLVE(virConnectSetKeepAlive);
#undef CLIBVIRT_RESOLVE

    // Before any other libvirt call, so not even the first connection attempt prints.
    table.virSetErrorFunc(NULL, clibvirt_ignore_error);
    return 0;
}

const struct clibvirt_functions *clibvirt_table(void) {
    return &table;
}

// The sink and its argument, shared by the four callbacks of one registration (freed by libvirt
// through clibvirt_free_target when the last callback is deregistered or the connection closes).
struct clibvirt_event_target {
    clibvirt_domain_event_sink sink;
    void (*release)(void *opaque);
    void *opaque;
    int references;
};

static void clibvirt_drop_target(struct clibvirt_event_target *target, int count) {
    // libvirt may free from its event thread while another callback is deregistered elsewhere.
    if (__atomic_sub_fetch(&target->references, count, __ATOMIC_ACQ_REL) == 0) {
        target->release(target->opaque);
        free(target);
    }
}

static void clibvirt_free_target(void *opaque) { clibvirt_drop_target(opaque, 1); }

static void clibvirt_on_lifecycle(virConnectPtr conn, virDomainPtr domain, int event, int detail, void *opaque) {
    (void)conn;
    (void)detail;
    struct clibvirt_event_target *target = opaque;
    target->sink(CLIBVIRT_EVENT_LIFECYCLE, domain, event, NULL, target->opaque);
}

static void clibvirt_on_device_added(virConnectPtr conn, virDomainPtr domain, const char *alias, void *opaque) {
    (void)conn;
    struct clibvirt_event_target *target = opaque;
    target->sink(CLIBVIRT_EVENT_DEVICE_ADDED, domain, 0, alias, target->opaque);
}

static void clibvirt_on_device_removed(virConnectPtr conn, virDomainPtr domain, const char *alias, void *opaque) {
    (void)conn;
    struct clibvirt_event_target *target = opaque;
    target->sink(CLIBVIRT_EVENT_DEVICE_REMOVED, domain, 0, alias, target->opaque);
}

static void clibvirt_on_metadata_change(virConnectPtr conn, virDomainPtr domain, int type, const char *nsuri,
                                        void *opaque) {
    (void)conn;
    struct clibvirt_event_target *target = opaque;
    target->sink(CLIBVIRT_EVENT_METADATA_CHANGE, domain, type, nsuri, target->opaque);
}

int clibvirt_watch_domain_events(virConnectPtr conn, clibvirt_domain_event_sink sink, void (*release)(void *opaque),
                                 void *opaque, int ids[CLIBVIRT_EVENT_COUNT]) {
    static const int event_ids[CLIBVIRT_EVENT_COUNT] = {
        VIR_DOMAIN_EVENT_ID_LIFECYCLE, VIR_DOMAIN_EVENT_ID_DEVICE_ADDED,
        VIR_DOMAIN_EVENT_ID_DEVICE_REMOVED, VIR_DOMAIN_EVENT_ID_METADATA_CHANGE,
    };
    const virConnectDomainEventGenericCallback callbacks[CLIBVIRT_EVENT_COUNT] = {
        VIR_DOMAIN_EVENT_CALLBACK(clibvirt_on_lifecycle), VIR_DOMAIN_EVENT_CALLBACK(clibvirt_on_device_added),
        VIR_DOMAIN_EVENT_CALLBACK(clibvirt_on_device_removed), VIR_DOMAIN_EVENT_CALLBACK(clibvirt_on_metadata_change),
    };
    struct clibvirt_event_target *target = malloc(sizeof *target);
    if (target == NULL) {
        release(opaque);
        return -1;
    }
    target->sink = sink;
    target->release = release;
    target->opaque = opaque;
    target->references = CLIBVIRT_EVENT_COUNT;
    for (int i = 0; i < CLIBVIRT_EVENT_COUNT; i++) {
        ids[i] = table.virConnectDomainEventRegisterAny(conn, NULL, event_ids[i], callbacks[i], target,
                                                        clibvirt_free_target);
        if (ids[i] < 0) {
            for (int j = 0; j < i; j++) table.virConnectDomainEventDeregisterAny(conn, ids[j]);
            // Registrations that never happened never call clibvirt_free_target.
            clibvirt_drop_target(target, CLIBVIRT_EVENT_COUNT - i);
            return -1;
        }
    }
    return 0;
}
