#ifndef FRAMECAST_CMEMORYFILE_H
#define FRAMECAST_CMEMORYFILE_H

/// An anonymous file in memory (memfd_create(2), close-on-exec), or -1 with errno set where the
/// kernel or libc lacks it. Swift's Glibc module does not import memfd_create.
int fc_memory_file_create(const char *name);

#endif
