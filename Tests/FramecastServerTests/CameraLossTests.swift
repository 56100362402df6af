import Foundation
import FramecastServer
import MediaPipeline
import Testing

/// A camera that fails or stops: viewers keep their connection and see NO SIGNAL at 1 fps until
/// real frames return; snapshots say why instead of showing a stale picture.
@Suite(.serialized) struct CameraLossTests {
    @Test func placeholderAtOneFramePerSecondDuringAFailureThenRealFramesReturn() async throws {
        // Fails after 20 frames; restarts after 1 s, then 2 s, then 4 s...
        let failing = TestPipelines.pattern(width: 160, height: 120, extra: "! identity error-after=20")
        try await TestServer.run(pipeline: failing) { server in
            try await withDeadline(40, "placeholders then real frames") {
                try await server.stream { reader, parts in
                    var placeholders: [ReceivedPart] = []
                    var gaps: [Double] = []
                    var previous: ReceivedPart?
                    var realAfterPlaceholders = 0
                    var sawDownState = false
                    while realAfterPlaceholders < 5 || gaps.count < 2 {
                        let part = try #require(try await parts.next(&reader))
                        let size = try #require(jpegDimensions(part.body), "not a whole JPEG")
                        // Placeholders keep the stream's last size.
                        #expect(size.width == 160 && size.height == 120)
                        defer { previous = part }
                        if part.isPlaceholder {
                            // Gaps between placeholders with no real frame in between: one failure.
                            if let previous, previous.isPlaceholder { gaps.append(part.receivedAt - previous.receivedAt) }
                            placeholders.append(part)
                            realAfterPlaceholders = 0
                            let state = try await server.state()
                            if state == "restarting" || state == "starting" { sawDownState = true }
                        } else if !placeholders.isEmpty {
                            realAfterPlaceholders += 1
                        }
                    }
                    #expect(sawDownState)
                    // About one per second while down.
                    for gap in gaps { #expect(gap > 0.6 && gap < 1.6, "placeholders \(gap) s apart") }
                }
                let status = try await server.status()
                #expect((status["restarts"] as? Int ?? 0) >= 1)
                #expect(((status["lastError"] as? [String: Any])?["element"] as? String)?.contains("identity") == true)
            }
        }
    }

    @Test func snapshotOfAFailingStreamIs503WithTheReasonNeverThePlaceholder() async throws {
        let failing = TestPipelines.pattern(width: 160, height: 120, extra: "! identity error-after=5")
        try await TestServer.run(pipeline: failing) { server in
            try await withDeadline(30, "a 503 snapshot while failing") {
                try await server.stream { _, _ in
                    try await eventually(10, "the stream restarting") { try await server.state() == "restarting" }
                    let asked = Date()
                    let (head, body) = try await server.get("/snapshot")
                    #expect(head.status == 503)
                    #expect(head.header("retry-after") != nil)
                    #expect(Date().timeIntervalSince(asked) < 1, "a failing stream's snapshot answers at once")
                    let json = try #require(try JSONSerialization.jsonObject(with: Data(body)) as? [String: Any])
                    #expect((json["lastError"] as? String)?.isEmpty == false)
                    #expect(json["state"] as? String == "restarting")
                }
            }
        }
    }

    @Test func aSourceThatStopsProducingIsDetectedAndRealFramesReplaceThePlaceholder() async throws {
        // A network camera that hangs: its first connection sends 5 frames and then nothing, while
        // staying open; the reconnection after the restart gets frames again.
        let jpeg = try #require(PlaceholderRenderer.render(width: 320, height: 240, text: "camera"))
        let camera = try HangingCamera(frame: jpeg, framesPerConnection: [5, 1000])
        defer { camera.stop() }
        let pipeline = "tcpclientsrc host=127.0.0.1 port=\(camera.port) ! jpegparse ! image/jpeg ! appsink name=sink"
        try await TestServer.run(pipeline: pipeline, configure: { $0.stream.frameTimeout = 1 }) { server in
            try await withDeadline(40, "stall, placeholders, recovery") {
                try await server.stream { reader, parts in
                    var real = 0
                    while real < 3 {
                        if try #require(try await parts.next(&reader)).isPlaceholder == false { real += 1 }
                    }
                    // The feed stops: after the frame timeout the stream shows NO SIGNAL.
                    var placeholder: ReceivedPart?
                    while placeholder == nil {
                        let part = try #require(try await parts.next(&reader))
                        if part.isPlaceholder { placeholder = part }
                    }
                    #expect(jpegDimensions(placeholder!.body)?.width == 320)
                    let status = try await server.status()
                    #expect((status["lastError"] as? [String: Any])?["message"] as? String == "no frame for 1 s")
                    // The restarted pipeline reconnects and gets frames: they replace the placeholder.
                    var sawReal = false
                    while !sawReal {
                        sawReal = try #require(try await parts.next(&reader)).isPlaceholder == false
                    }
                    #expect(camera.connections >= 2)
                }
            }
        }
    }
}

/// A TCP "camera" on loopback that sends a number of JPEGs per connection and then hangs (keeps
/// the connection open, sends nothing), as a frozen network camera does.
final class HangingCamera: @unchecked Sendable {
    let port: Int
    private let listener: Int32
    private let frame: [UInt8]
    private let framesPerConnection: [Int]
    private let lock = NSLock()
    private var accepted: [Int32] = []
    private var stopped = false

    var connections: Int { lock.withLock { accepted.count } }

    init(frame: [UInt8], framesPerConnection: [Int]) throws {
        self.frame = frame
        self.framesPerConnection = framesPerConnection
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        let port = bindToFreeLoopbackPort(fd)
        listener = fd
        self.port = port ?? 0
        guard port != nil, listen(fd, 8) == 0 else { throw HTTPTestError.closed("starting the hanging camera") }
        let thread = Thread { [self] in acceptLoop() }
        thread.start()
    }

    private func acceptLoop() {
        while true {
            let connection = accept(listener, nil, nil)
            guard connection >= 0 else { return }
            let index = lock.withLock { () -> Int? in
                guard !stopped else { return nil }
                accepted.append(connection)
                return accepted.count - 1
            }
            guard let index else {
                close(connection)
                return
            }
            let count = framesPerConnection[min(index, framesPerConnection.count - 1)]
            let frame = self.frame
            Thread {
                for _ in 0..<count {
                    let sent = frame.withUnsafeBytes { send(connection, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
                    if sent <= 0 { return }
                    usleep(33_000)  // a 30 fps camera
                }
            }.start()
        }
    }

    func stop() {
        let connections = lock.withLock { () -> [Int32] in
            stopped = true
            return accepted
        }
        shutdown(listener, Int32(SHUT_RDWR))
        close(listener)
        for connection in connections { close(connection) }
    }
}
