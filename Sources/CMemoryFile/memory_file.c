#define _GNU_SOURCE
#include "CMemoryFile.h"

#include <errno.h>
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
