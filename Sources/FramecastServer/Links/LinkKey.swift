import Crypto
import Foundation
import Glibc

/// The secret that signs links (`--link-key-file`): the file's bytes, whatever they are, at least
/// 16 of them. `serve` makes the file when it is missing (32 random bytes, mode 0600);
/// `framecast link` only reads it. Whoever can read the file can make links to every stream.
public struct LinkKey: Sendable {
    let symmetric: SymmetricKey
    /// A keyed digest of the key, to tell whether a reload changed it without keeping the bytes.
    let fingerprint: [UInt8]

    public static let minimumBytes = 16
    /// Larger is no key file (`/dev/zero` given by mistake is refused, not read forever).
    static let maximumBytes = 4096
    static let createdBytes = 32

    init(bytes: [UInt8]) {
        symmetric = SymmetricKey(data: bytes)
        fingerprint = Array(SHA256.hash(data: Array("framecast-link-key:".utf8) + bytes))
    }

    public struct Failure: Error, Sendable, CustomStringConvertible {
        public let description: String
    }

    /// A key read from a file, with a warning for the log when others may read the file.
    public struct Loaded: Sendable {
        public let key: LinkKey
        /// True when this call made the file.
        public let created: Bool
        public let warning: String?
    }

    /// Reads the key file; makes it first (32 random bytes, mode 0600) when it does not exist
    /// and `create` says so.
    public static func load(path: String, create: Bool) throws(Failure) -> Loaded {
        if create, let bytes = try makeFile(path) {
            return Loaded(key: LinkKey(bytes: bytes), created: true, warning: nil)
        }
        let (bytes, mode) = try read(path)
        guard bytes.count >= minimumBytes else {
            throw Failure(
                description:
                    "--link-key-file \(path): the key is \(bytes.count) bytes, fewer than \(minimumBytes): anyone could guess it; remove the file and the server makes a random one, or write at least 32 random bytes (head -c 32 /dev/urandom > FILE)"
            )
        }
        var warning: String?
        if mode & 0o077 != 0 {
            warning = "--link-key-file \(path) is readable or writable by other users (mode \(String(mode & 0o777, radix: 8))): whoever reads it can make links to every stream; chmod 600 it"
        }
        return Loaded(key: LinkKey(bytes: bytes), created: false, warning: warning)
    }

    /// The key file's bytes and permission bits. Opened without blocking, so that a FIFO given by
    /// mistake is refused rather than waited on.
    private static func read(_ path: String) throws(Failure) -> ([UInt8], UInt32) {
        let fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK)
        guard fd >= 0 else { throw Failure(description: "--link-key-file \(path): cannot read it: \(String(cString: strerror(errno)))") }
        defer { close(fd) }
        guard let status = FileStatus.of(descriptor: fd) else { throw Failure(description: "--link-key-file \(path): \(String(cString: strerror(errno)))") }
        guard status.isRegularFile else { throw Failure(description: "--link-key-file \(path): not a regular file") }
        var bytes = [UInt8](repeating: 0, count: maximumBytes + 1)
        var count = 0
        while count < bytes.count {
            let got = bytes.withUnsafeMutableBytes { Glibc.read(fd, $0.baseAddress! + count, $0.count - count) }
            if got < 0, errno == EINTR { continue }
            guard got >= 0 else { throw Failure(description: "--link-key-file \(path): cannot read it: \(String(cString: strerror(errno)))") }
            if got == 0 { break }
            count += got
        }
        guard count <= maximumBytes else { throw Failure(description: "--link-key-file \(path): larger than \(maximumBytes) bytes: not a key file") }
        return (Array(bytes[..<count]), status.permissions)
    }

    /// Makes the file with 32 random bytes, readable by its owner only; nil when it exists already
    /// (made by another process meanwhile, too: `O_EXCL` lets exactly one of them write it).
    private static func makeFile(_ path: String) throws(Failure) -> [UInt8]? {
        let fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o600)
        if fd < 0, errno == EEXIST { return nil }
        guard fd >= 0 else { throw Failure(description: "--link-key-file \(path): cannot create it: \(String(cString: strerror(errno)))") }
        var generator = SystemRandomNumberGenerator()
        let bytes = (0..<createdBytes).map { _ in UInt8.random(in: .min ... .max, using: &generator) }
        // The umask can only take bits away; fchmod says 0600 whatever it is.
        let written = bytes.withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
        let complete = written == bytes.count && fchmod(fd, 0o600) == 0 && fsync(fd) == 0
        let reason = String(cString: strerror(errno))
        close(fd)
        guard complete else {
            unlink(path)
            throw Failure(description: "--link-key-file \(path): cannot write it: \(reason)")
        }
        return bytes
    }
}
