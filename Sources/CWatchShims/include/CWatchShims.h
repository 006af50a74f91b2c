// Linux descriptors `vlanwire watch` polls that Swift's Glibc module does not export
// (<sys/eventfd.h>, <sys/signalfd.h>). Each wrapper says why it exists.
#ifndef CWATCH_SHIMS_H
#define CWATCH_SHIMS_H

/// Why: eventfd(2) is not in Swift's Glibc module. A non-blocking, close-on-exec eventfd: another
/// thread (libvirt's event loop) writes to it to wake the watch loop's poll. -1 with errno on failure.
int cwatch_eventfd(void);

/// Why: signalfd(2) and sigset_t helpers' macros are not in Swift's Glibc module. Blocks
/// SIGTERM, SIGINT and SIGHUP for the calling thread (and threads it creates later) and returns a
/// non-blocking, close-on-exec signalfd for them; -1 with errno on failure.
int cwatch_signalfd(void);

/// Why: struct signalfd_siginfo is not importable either. Reads one pending signal from `fd` and
/// returns its number, or 0 when none is pending.
int cwatch_read_signal(int fd);

#endif
