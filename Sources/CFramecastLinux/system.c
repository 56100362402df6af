#define _GNU_SOURCE
#include "CFramecastLinux.h"

#include <errno.h>
#include <netinet/tcp.h>
#include <sys/mman.h>

int fc_memory_file_create(const char *name) {
#if defined(__linux__) && defined(MFD_CLOEXEC)
    return memfd_create(name, MFD_CLOEXEC);
#else
    (void)name;
    errno = ENOSYS;
    return -1;
#endif
}

int fc_tcp_notsent_lowat(void) {
#ifdef TCP_NOTSENT_LOWAT
    return TCP_NOTSENT_LOWAT;
#else
    return -1;
#endif
}
