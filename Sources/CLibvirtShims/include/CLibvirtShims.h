#ifndef CLIBVIRT_SHIMS_H
#define CLIBVIRT_SHIMS_H

// Why this module exists: vlanwire is also libvirt's qemu hook, started on every guest start,
// and must start in a few milliseconds. Linking libvirt.so costs ~6.7 ms of dynamic loading per
// process start (58 shared libraries), and the hook must never call libvirt anyway (libvirtd
// waits for the hook: deadlock). So nothing here links libvirt: the headers give the types, and
// `clibvirt_load` dlopen()s libvirt.so.0 on first use, only in the commands that need it.

#include <stddef.h>
#include <libvirt/libvirt.h>
#include <libvirt/virterror.h>

/// The libvirt entry points vlanwire uses, resolved with dlsym. Each member has exactly the type
/// of the libvirt function it is named after (`__typeof__`), so the compiler checks every call
/// against libvirt's own header while nothing references the symbols at link time.
/// `_Nonnull`: Swift sees plain function values; the table is only handed out once loaded.
struct clibvirt_functions {
    // Errors: read the calling thread's last error; replace libvirt's default handler, which
    // prints every error to stderr.
    __typeof__(virGetLastError) * _Nonnull virGetLastError;
    __typeof__(virSetErrorFunc) * _Nonnull virSetErrorFunc;

    // Connection.
    __typeof__(virConnectOpen) * _Nonnull virConnectOpen;
    __typeof__(virConnectClose) * _Nonnull virConnectClose;
    __typeof__(virConnectGetLibVersion) * _Nonnull virConnectGetLibVersion;

    // Domains.
    __typeof__(virConnectListAllDomains) * _Nonnull virConnectListAllDomains;
    __typeof__(virDomainLookupByName) * _Nonnull virDomainLookupByName;
    __typeof__(virDomainLookupByUUIDString) * _Nonnull virDomainLookupByUUIDString;
    __typeof__(virDomainFree) * _Nonnull virDomainFree;
    __typeof__(virDomainGetName) * _Nonnull virDomainGetName;
    __typeof__(virDomainGetUUIDString) * _Nonnull virDomainGetUUIDString;
    __typeof__(virDomainIsActive) * _Nonnull virDomainIsActive;
    __typeof__(virDomainGetXMLDesc) * _Nonnull virDomainGetXMLDesc;
    __typeof__(virDomainGetMetadata) * _Nonnull virDomainGetMetadata;
    __typeof__(virDomainSetMetadata) * _Nonnull virDomainSetMetadata;

    // Networks.
    __typeof__(virConnectListAllNetworks) * _Nonnull virConnectListAllNetworks;
    __typeof__(virNetworkDefineXML) * _Nonnull virNetworkDefineXML;
    __typeof__(virNetworkLookupByName) * _Nonnull virNetworkLookupByName;
    __typeof__(virNetworkFree) * _Nonnull virNetworkFree;
    __typeof__(virNetworkGetName) * _Nonnull virNetworkGetName;
    __typeof__(virNetworkGetUUIDString) * _Nonnull virNetworkGetUUIDString;
    __typeof__(virNetworkGetXMLDesc) * _Nonnull virNetworkGetXMLDesc;
    __typeof__(virNetworkUndefine) * _Nonnull virNetworkUndefine;
    __typeof__(virNetworkCreate) * _Nonnull virNetworkCreate;
    __typeof__(virNetworkDestroy) * _Nonnull virNetworkDestroy;
    __typeof__(virNetworkGetAutostart) * _Nonnull virNetworkGetAutostart;
    __typeof__(virNetworkSetAutostart) * _Nonnull virNetworkSetAutostart;
    __typeof__(virNetworkIsActive) * _Nonnull virNetworkIsActive;
    __typeof__(virNetworkIsPersistent) * _Nonnull virNetworkIsPersistent;

    // Events (`vlanwire watch`): libvirt's own event loop, domain events, connection loss.
    __typeof__(virEventRegisterDefaultImpl) * _Nonnull virEventRegisterDefaultImpl;
    __typeof__(virEventRunDefaultImpl) * _Nonnull virEventRunDefaultImpl;
    __typeof__(virConnectDomainEventRegisterAny) * _Nonnull virConnectDomainEventRegisterAny;
    __typeof__(virConnectDomainEventDeregisterAny) * _Nonnull virConnectDomainEventDeregisterAny;
    __typeof__(virConnectRegisterCloseCallback) * _Nonnull virConnectRegisterCloseCallback;
    __typeof__(virConnectUnregisterCloseCallback) * _Nonnull virConnectUnregisterCloseCallback;
    __typeof__(virConnectSetKeepAlive) * _Nonnull virConnectSetKeepAlive;
};

/// Loads libvirt.so.0 (RTLD_NOW | RTLD_LOCAL: every symbol resolved now, none leaked into the
/// global namespace), resolves every member of the table and silences libvirt's default error
/// printing. Returns 0 on success; -1 with a one-line reason in `errbuf` otherwise
/// ("libvirt is not installed (libvirt0)" when the library is absent).
/// Not thread-safe and not idempotent: Swift calls it once, from a lazily initialised global.
int clibvirt_load(char * _Nonnull errbuf, size_t len);

/// The table `clibvirt_load` filled. Only valid after it returned 0.
const struct clibvirt_functions * _Nonnull clibvirt_table(void);

/// The domain events `vlanwire watch` follows, in the order of `clibvirt_watch_domain_events`' ids.
enum clibvirt_domain_event {
    CLIBVIRT_EVENT_LIFECYCLE = 0,       // detail: virDomainEventType; text: NULL
    CLIBVIRT_EVENT_DEVICE_ADDED = 1,    // text: the device's alias (net0)
    CLIBVIRT_EVENT_DEVICE_REMOVED = 2,  // text: the device's alias
    CLIBVIRT_EVENT_METADATA_CHANGE = 3, // detail: virDomainMetadataType; text: the namespace URI or NULL
    CLIBVIRT_EVENT_COUNT = 4,
};

/// Where every domain event goes: `event` from `clibvirt_domain_event`, the domain (valid during
/// the call only), an event-specific number and text (see the enum), and the caller's `opaque`.
typedef void (*clibvirt_domain_event_sink)(int event, virDomainPtr _Nonnull domain, int detail,
                                           const char * _Nullable text, void * _Nullable opaque);

/// Why: each domain event has a callback of its own C type, registered through the one generic
/// type with libvirt's VIR_DOMAIN_EVENT_CALLBACK cast, which Swift cannot spell. Registers the four
/// events above on `conn` (all domains), each forwarding to `sink` with `opaque`, and writes the
/// callback ids to `ids`. Once libvirt has dropped all four (deregistered, or the connection
/// closed) it calls `release(opaque)`. Returns 0, or -1 with libvirt's error set after
/// deregistering what was registered (`release` is called then too). Callbacks run on the thread
/// that runs `virEventRunDefaultImpl`.
int clibvirt_watch_domain_events(virConnectPtr _Nonnull conn, clibvirt_domain_event_sink _Nonnull sink,
                                 void (* _Nonnull release)(void * _Nullable opaque), void * _Nullable opaque,
                                 int ids[_Nonnull CLIBVIRT_EVENT_COUNT]);

#endif
