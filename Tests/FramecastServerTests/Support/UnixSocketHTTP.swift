import Foundation
import NIOCore
import NIOPosix

/// `withHTTPRequest` over a unix socket (`--unix PATH`): one request, the response read with the
/// same `ResponseReader`, the connection closed when `body` returns.
func withUnixHTTPRequest<T: Sendable>(
    socketPath: String,
    path: String,
    method: String = "GET",
    _ body: (inout ResponseReader) async throws -> T
) async throws -> T {
    let channel = try await ClientBootstrap(group: MultiThreadedEventLoopGroup.singleton)
        .connect(unixDomainSocketPath: socketPath) { channel in
            channel.eventLoop.makeCompletedFuture {
                try NIOAsyncChannel<ByteBuffer, ByteBuffer>(wrappingChannelSynchronously: channel)
            }
        }
    return try await channel.executeThenClose { inbound, outbound in
        // The Host a proxy in front of the socket would pass on.
        let request = "\(method) \(path) HTTP/1.1\r\nHost: localhost\r\nUser-Agent: framecast-tests\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
        try await outbound.write(ByteBuffer(string: request))
        var reader = ResponseReader(inbound.makeAsyncIterator(), outbound: outbound)
        try await reader.readHead()
        return try await body(&reader)
    }
}

/// GET over a unix socket, the whole body read.
func unixGet(socketPath: String, _ path: String) async throws -> (ResponseHead, [UInt8]) {
    try await withUnixHTTPRequest(socketPath: socketPath, path: path) { reader in
        (reader.head, try await reader.readToEnd())
    }
}

/// The TCP ports process `pid` listens on, from its descriptors (`/proc/PID/fd`, `socket:[INODE]`)
/// matched against the kernel's socket tables (`/proc/net/tcp`, `tcp6`, state 0A = LISTEN). The
/// tables list every socket of the network namespace; the inode says which are this process's.
func listeningTCPPorts(of pid: Int32) -> Set<Int> {
    let fdDirectory = "/proc/\(pid)/fd"
    var inodes: Set<String> = []
    for entry in (try? FileManager.default.contentsOfDirectory(atPath: fdDirectory)) ?? [] {
        guard let target = try? FileManager.default.destinationOfSymbolicLink(atPath: "\(fdDirectory)/\(entry)"),
            target.hasPrefix("socket:[")
        else { continue }
        inodes.insert(String(target.dropFirst("socket:[".count).dropLast()))
    }
    var ports: Set<Int> = []
    for table in ["/proc/\(pid)/net/tcp", "/proc/\(pid)/net/tcp6"] {
        let text = (try? String(contentsOfFile: table, encoding: .utf8)) ?? ""
        for line in text.split(separator: "\n").dropFirst() {
            let fields = line.split(separator: " ")
            // sl local_address rem_address st tx:rx tr:when retrnsmt uid timeout inode
            guard fields.count > 9, fields[3] == "0A", inodes.contains(String(fields[9])),
                let port = fields[1].split(separator: ":").last.flatMap({ Int($0, radix: 16) })
            else { continue }
            ports.insert(port)
        }
    }
    return ports
}
