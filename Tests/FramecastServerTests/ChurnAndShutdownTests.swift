import Foundation
import Testing

/// Thousands of clients coming and going, some resetting mid-frame, leave nothing behind; SIGTERM
/// with hundreds connected ends every stream cleanly and fast.
@Suite(.serialized) struct ChurnAndShutdownTests {
    /// Open descriptors, threads and resident memory of a process.
    struct Footprint: CustomStringConvertible {
        var descriptors: Int
        var threads: Int
        var resident: Int

        init(pid: Int32, resident: Int) {
            descriptors = (try? FileManager.default.contentsOfDirectory(atPath: "/proc/\(pid)/fd").count) ?? -1
            threads = (try? FileManager.default.contentsOfDirectory(atPath: "/proc/\(pid)/task").count) ?? -1
            self.resident = resident
        }

        var description: String { "\(descriptors) fds, \(threads) threads, \(resident >> 20) MB" }
    }

    /// One viewer that comes and goes on a plain blocking socket: it asks for the stream, reads a
    /// little (often stopping inside a frame), then closes, or resets the connection.
    static func visit(port: Int, index: Int) {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        defer { close(fd) }
        var timeout = timeval(tv_sec: 2, tv_usec: 0)
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        guard connectToLoopback(fd, port: port) else { return }
        let agent = index % 3 == 0 ? "Mozilla/5.0" : "churn"
        let path = index % 5 == 0 ? "/ws" : "/stream"
        var request = "GET \(path) HTTP/1.1\r\nHost: 127.0.0.1\r\nUser-Agent: \(agent)\r\n"
        if path == "/ws" { request += "Upgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n" }
        request += "\r\n"
        _ = request.withCString { send(fd, $0, strlen($0), Int32(MSG_NOSIGNAL)) }
        if path == "/ws" {
            let subscribe = WebSocketTestClient.textFrame(#"{"streams": ["main"]}"#)
            _ = subscribe.withUnsafeBytes { send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
        }
        var buffer = [UInt8](repeating: 0, count: 1 + (index * 7919) % 6000)
        _ = recv(fd, &buffer, buffer.count, 0)
        if index % 4 == 1 {
            // Reset, mid-frame: close with linger 0 sends RST instead of FIN.
            var linger = Glibc.linger(l_onoff: 1, l_linger: 0)
            setsockopt(fd, SOL_SOCKET, SO_LINGER, &linger, socklen_t(MemoryLayout<Glibc.linger>.size))
        }
    }

    @Test func twoThousandComingAndGoingClientsLeaveNoDescriptorThreadOrMemoryBehind() async throws {
        let server = try await FramecastProcess.serve(["--pipeline", TestPipelines.pattern(width: 320, height: 240), "--always-on"])
        defer { server.terminate() }
        try await withDeadline(240, "churn") {
            // Warm up: the pipeline runs, pools and caches exist.
            for index in 0..<50 { Self.visit(port: server.port, index: index) }
            try await eventually(10, "warm-up clients gone") { try await server.server.status()["clients"] as? Int == 0 }
            let before = Footprint(pid: server.process.processIdentifier, resident: server.residentBytes)

            let port = server.port
            await withCheckedContinuation { (done: CheckedContinuation<Void, Never>) in
                Thread {
                    DispatchQueue.concurrentPerform(iterations: 16) { worker in
                        for index in stride(from: worker, to: 2000, by: 16) { Self.visit(port: port, index: index) }
                    }
                    done.resume()
                }.start()
            }
            try await eventually(15, "every client gone") {
                let status = try await server.server.status()
                return status["clients"] as? Int == 0 && status["serverClients"] as? Int == 0
            }
            var after = Footprint(pid: server.process.processIdentifier, resident: server.residentBytes)
            // Closing sockets is asynchronous on the server side: give the descriptors a moment.
            try await eventually(10, "descriptors back to \(before.descriptors)") {
                after = Footprint(pid: server.process.processIdentifier, resident: server.residentBytes)
                return after.descriptors <= before.descriptors
            }
            #expect(after.threads <= before.threads + 2, "before: \(before); after: \(after)")
            #expect(after.resident <= before.resident + 24 << 20, "before: \(before); after: \(after)")
            // And it still serves.
            try await server.server.stream { reader, parts in _ = try #require(try await parts.next(&reader)) }
        }
    }

    @Test func sigtermWith200ClientsExitsWithin2SecondsAndEveryStreamEndsCleanly() async throws {
        let server = try await FramecastProcess.serve(["--pipeline", TestPipelines.pattern(width: 160, height: 120, fps: "5/1")])
        defer { server.terminate() }
        let (connected, connectedSink) = AsyncStream<Void>.makeStream()
        try await withThrowingTaskGroup(of: Bool.self) { group in
            for index in 0..<200 {
                group.addTask {
                    do {
                        return try await server.server.stream(userAgent: index % 2 == 0 ? "curl/8" : "Mozilla/5.0") { reader, parts in
                            _ = try #require(try await parts.next(&reader))
                            connectedSink.yield()
                            while try await parts.next(&reader) != nil {}
                            // The closing boundary, then the end of the body.
                            return parts.closed
                        }
                    } catch HTTPTestError.closed {
                        return true  // a clean close without the boundary also counts
                    }
                }
            }
            try await withDeadline(60, "200 clients connected") {
                var iterator = connected.makeAsyncIterator()
                var count = 0
                while count < 200, await iterator.next() != nil { count += 1 }
            }
            #expect(try await server.server.status()["serverClients"] as? Int == 200)
            let signalledAt = Date()
            kill(server.process.processIdentifier, SIGTERM)
            try await server.waitForExit(timeout: 10)
            let took = Date().timeIntervalSince(signalledAt)
            #expect(took < 2, "exit took \(took) s with 200 clients")
            #expect(server.process.terminationStatus == 0)
            var clean = 0
            for try await ok in group where ok { clean += 1 }
            #expect(clean == 200, "\(clean) of 200 streams ended cleanly")
        }
    }
}
