#ifndef FRAMECAST_CLINUX_H
#define FRAMECAST_CLINUX_H

/// What Swift's Glibc module does not import.

/// An anonymous file in memory (memfd_create(2), close-on-exec), or -1 with errno set where the
/// kernel or libc lacks it.
int fc_memory_file_create(const char *name);

/// TCP_NOTSENT_LOWAT, the socket option that caps the bytes the kernel holds unsent, or -1 where
/// the headers lack it.
int fc_tcp_notsent_lowat(void);

#endif
