#include "CLibvirtShims.h"

#include <dlfcn.h>
#include <stdio.h>
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
#undef CLIBVIRT_RESOLVE

    // Before any other libvirt call, so not even the first connection attempt prints.
    table.virSetErrorFunc(NULL, clibvirt_ignore_error);
    return 0;
}

const struct clibvirt_functions *clibvirt_table(void) {
    return &table;
}
