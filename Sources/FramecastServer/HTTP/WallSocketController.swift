import CoreMetrics
import Foundation
import Hummingbird
import HummingbirdWebSocket
import Logging
import NIOCore
import ServiceLifecycle

/// `/ws`: the page's wall of streams over one WebSocket, because browsers open at most six
/// HTTP/1.1 connections per host and every `<img>` stream holds one forever.
///
/// The client sends `{"streams": ["a", "b"]}` (text) to say which streams it wants (the visible
/// tiles); the server sends each wanted stream's newest frame as a binary message (see
/// `Frame.webSocketMessage`), skipping frames for a connection that falls behind.
struct WallSocketController {
    let catalog: StreamCatalog
    let budget: ClientBudget

    func addRoutes(to router: Router<BasicWebSocketRequestContext>) {
        router.ws("/ws") { inbound, outbound, context in
            try await serve(inbound: inbound, outbound: outbound, logger: context.logger)
        }
    }

    private struct Request: Decodable {
        var streams: [String]
    }

    private struct Reply: Encodable {
        var error: String?
        var unknown: [String]?
        var streams: [String]?
    }

    func serve(inbound: WebSocketInboundStream, outbound: WebSocketOutboundWriter, logger: Logger) async throws {
        guard let ticket = budget.admit() else {
            let reply = Reply(error: budget.refusal().error)
            try await outbound.write(.text(String(decoding: try JSONEncoder().encode(reply), as: UTF8.self)))
            return
        }
        defer { ticket.release() }
        let session = WallSession(catalog: catalog)
        defer { session.close() }
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask {
                // The only writer of this connection: one frame per stream per wake-up.
                for await _ in session.wakeups {
                    for (frame, stream) in session.takePending() {
                        // Placeholders go to the wall too: a tile shows NO SIGNAL while its camera is down.
                        try await outbound.write(.binary(frame.webSocketMessage))
                        stream.metrics.framesSent.increment()
                        stream.metrics.bytesSent.increment(by: frame.webSocketMessage.readableBytes)
                    }
                }
            }
            let decoder = JSONDecoder()
            let encoder = JSONEncoder()
            // Ends when the client closes, or at shutdown (the handler returning closes the socket).
            for try await message in inbound.messages(maxSize: 64 * 1024).cancelOnGracefulShutdown() {
                guard case .text(let text) = message, let request = try? decoder.decode(Request.self, from: Data(text.utf8)) else {
                    let reply = Reply(error: "send {\"streams\": [NAME, ...]} as a text message", streams: catalog.names)
                    try await outbound.write(.text(String(decoding: try encoder.encode(reply), as: UTF8.self)))
                    continue
                }
                let unknown = session.want(Set(request.streams))
                if !unknown.isEmpty {
                    let reply = Reply(error: "no such stream", unknown: unknown, streams: catalog.names)
                    try await outbound.write(.text(String(decoding: try encoder.encode(reply), as: UTF8.self)))
                }
            }
            session.close()
            group.cancelAll()
        }
    }
}
