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
};

/// Loads libvirt.so.0 (RTLD_NOW | RTLD_LOCAL: every symbol resolved now, none leaked into the
/// global namespace), resolves every member of the table and silences libvirt's default error
/// printing. Returns 0 on success; -1 with a one-line reason in `errbuf` otherwise
/// ("libvirt is not installed (libvirt0)" when the library is absent).
/// Not thread-safe and not idempotent: Swift calls it once, from a lazily initialised global.
int clibvirt_load(char * _Nonnull errbuf, size_t len);

/// The table `clibvirt_load` filled. Only valid after it returned 0.
const struct clibvirt_functions * _Nonnull clibvirt_table(void);

#endif
