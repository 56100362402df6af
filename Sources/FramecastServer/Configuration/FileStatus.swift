import Glibc

/// What `fstat(2)` says of an open file that a secret is read from. In a file of its own that
/// imports Glibc alone: under MemberImportVisibility, `struct stat`'s members belong to whichever
/// C module declared it first, which a file importing Foundation or Crypto may not import.
struct FileStatus {
    let isRegularFile: Bool
    /// The permission bits (`0o600`).
    let permissions: UInt32

    /// Nil when `fstat` fails (`errno` says why).
    static func of(descriptor fd: Int32) -> FileStatus? {
        var status = stat()
        guard fstat(fd, &status) == 0 else { return nil }
        return FileStatus(isRegularFile: status.st_mode & S_IFMT == S_IFREG, permissions: UInt32(status.st_mode & 0o7777))
    }
}
