import CoreMetrics
import Foundation
import Hummingbird
import HummingbirdWebSocket
import Logging
import NIOCore
import NIOWebSocket
import ServiceLifecycle
import Synchronization

/// `/ws`: the page's wall of streams over one WebSocket, because browsers open at most six
/// HTTP/1.1 connections per host and every `<img>` stream holds one forever.
///
/// The client sends `{"streams": ["a", {"name": "b", "width": 480}]}` (text) to say which streams
/// it wants (the visible tiles), each at its source size or as a rendition (the keys of
/// `/stream`'s query); the server sends each wanted stream's newest frame as a binary message (see
/// `WallMessage`, whose name is the stream's or the rendition's, `b@480x270q85`), skipping frames
/// for a connection that falls behind.
struct WallSocketController {
    let catalog: StreamCatalog
    let budget: ClientBudget
    /// A session that has sent no valid subscription by then is closed: an idle socket holds
    /// server resources and says nothing about what it wants.
    var subscribeTimeout: Duration = .seconds(10)

    func addRoutes(to router: Router<FramecastWebSocketRequestContext>) {
        router.ws("/ws") { inbound, outbound, context in
            try await serve(inbound: inbound, outbound: outbound, eventLoop: context.requestContext.channel.eventLoop, logger: context.logger)
        }
    }

    private struct Reply: Encodable {
        var error: String?
        /// Wanted streams that no longer exist (a reload removed them).
        var ended: [String]?
        var unknown: [String]?
        var streams: [String]?
        /// Renditions that could not be served, with the reason.
        var refused: [String: String]?
        /// For a stream at its limit of renditions, those that exist (`NAME@WxHqQ`).
        var renditions: [String]?
    }

    /// The stream part of `NAME@RENDITION`.
    private static func streamName(_ name: String) -> String {
        name.firstIndex(of: "@").map { String(name[..<$0]) } ?? name
    }

    /// One session. It counts toward `--max-clients` only while it wants at least one stream, so
    /// sockets that watch nothing (a hidden tab, the single view) never keep viewers out.
    func serve(inbound: WebSocketInboundStream, outbound: WebSocketOutboundWriter, eventLoop: any EventLoop, logger: Logger) async throws {
        let session = WallSession(eventLoop: eventLoop)
        defer { session.close() }
        // Admitted on the first subscription that names a stream; given back when the session
        // wants none (it says so, or every stream it wanted was removed by a reload).
        let ticket = SessionTicket()
        defer { ticket.release() }
        let encoder = JSONEncoder()
        let catalog = self.catalog
        func reply(_ reply: Reply) async throws {
            try await outbound.write(.text(String(decoding: try encoder.encode(reply), as: UTF8.self)))
        }
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask {
                // The only writer of this connection: one frame per stream per wake-up.
                for await _ in session.wakeups {
                    let ended = session.takeEnded()
                    if !ended.isEmpty {
                        if !session.wantedNames.contains(where: { catalog.named(Self.streamName($0)) != nil }) { ticket.release() }
                        // The page subscribes again if such a stream comes back.
                        let text = try JSONEncoder().encode(Reply(ended: ended, streams: catalog.names))
                        try await outbound.write(.text(String(decoding: text, as: UTF8.self)))
                    }
                    for (frame, stream) in session.takePending() {
                        // Placeholders go to the wall too: a tile shows NO SIGNAL while its camera is down.
                        let message = frame.encoding(WallMessage.self, make: WallMessage.init)
                        try await outbound.write(.binary(message.bytes))
                        stream.metrics.framesSent.increment()
                        stream.metrics.bytesSent.increment(by: message.bytes.readableBytes)
                    }
                }
            }
            let subscribeTimeout = self.subscribeTimeout
            group.addTask {
                try await Task.sleep(for: subscribeTimeout)
                guard !session.hasSubscribed else { return }
                logger.debug("closing a WebSocket that subscribed to nothing within \(subscribeTimeout)")
                try await outbound.close(.policyViolation, reason: "send {\"streams\": [...]} within \(subscribeTimeout.components.seconds) s")
            }
            // Ends when the client closes, or at shutdown (the handler returning closes the socket).
            for try await message in inbound.messages(maxSize: 64 * 1024).cancelOnGracefulShutdown() {
                guard case .text(let text) = message, let request = WallSubscription.parse(text) else {
                    try await reply(
                        Reply(
                            error: "send {\"streams\": [NAME or {\"name\": NAME, \"width\": W}, ...]} as a text message (at most \(WallSubscription.maximumStreams) streams)",
                            streams: catalog.names))
                    continue
                }
                // Only names that exist count: a session that wants nothing real holds no slot.
                if !request.streams.contains(where: { catalog.named(Self.streamName($0.name)) != nil }) {
                    ticket.release()
                } else if !ticket.isHeld {
                    guard let admitted = budget.admit() else {
                        try await reply(Reply(error: budget.refusal().error))
                        try await outbound.close(.unknown(1013), reason: "server full")
                        break
                    }
                    ticket.hold(admitted)
                }
                // Admitted first: a refused session never starts a rendition. Resolved side by
                // side: a rendition of a stream that has never run waits for its first frame.
                let directory = self.catalog
                let resolved = await withTaskGroup(of: (Int, Result<StreamTarget, StreamRefusal>, StreamTarget?).self) { group in
                    for (index, entry) in request.streams.enumerated() {
                        group.addTask {
                            let result = await directory.resolve(name: entry.name, parameters: { entry.parameters[$0] }, on: eventLoop)
                            guard case .failure(let refusal) = result, refusal.status != .notFound else { return (index, result, nil) }
                            // A refused rendition: the tile shows the stream at its own size rather than nothing.
                            let whole = try? await directory.resolve(name: Self.streamName(entry.name), parameters: { _ in nil }, on: eventLoop).get()
                            return (index, result, whole)
                        }
                    }
                    var results: [(Int, Result<StreamTarget, StreamRefusal>, StreamTarget?)] = []
                    for await result in group { results.append(result) }
                    return results.sorted { $0.0 < $1.0 }
                }
                var targets: [StreamTarget] = []
                var unknown: [String] = []
                var refused: [String: String] = [:]
                var existing: [String] = []
                let kept = Set(resolved.compactMap { try? $0.1.get().supervisor.name })
                for (index, result, fallback) in resolved {
                    let entry = request.streams[index]
                    let name = entry.name
                    var result = result
                    // A tile moving to a new size in a full set: its own old rendition (wanted no
                    // more) makes room for the new one, then the new one is asked for again.
                    if case .failure(let refusal) = result, refusal.body.renditions != nil {
                        let prefix = Self.streamName(name) + "@"
                        let own = session.wantedNames.filter { $0.hasPrefix(prefix) && !kept.contains($0) }
                        if !own.isEmpty {
                            session.leave(own)
                            try? await eventLoop.submit {}.get()
                            result = await directory.resolve(name: name, parameters: { entry.parameters[$0] }, on: eventLoop)
                            if case .success = result { fallback?.lease?.release() }
                        }
                    }
                    switch result {
                    case .success(let target): targets.append(target)
                    case .failure(let refusal) where refusal.status == .notFound: unknown.append(name)
                    case .failure(let refusal):
                        refused[name] = refusal.body.error
                        existing += refusal.body.renditions ?? []
                        if let fallback { targets.append(fallback) }
                    }
                }
                session.want(targets)
                if !unknown.isEmpty {
                    try await reply(Reply(error: "no such stream", unknown: unknown.sorted(), streams: catalog.names))
                }
                if !refused.isEmpty {
                    try await reply(Reply(error: "rendition refused", refused: refused, renditions: existing.isEmpty ? nil : Array(Set(existing)).sorted()))
                }
            }
            session.close()
            group.cancelAll()
        }
    }
}

/// A session's place in `--max-clients`, held by its reading and writing tasks alike.
private final class SessionTicket: Sendable {
    private let ticket = Mutex<ClientBudget.Ticket?>(nil)

    var isHeld: Bool { ticket.withLock { $0 != nil } }

    func hold(_ admitted: ClientBudget.Ticket) {
        ticket.withLock { $0 = admitted }
    }

    func release() {
        ticket.withLock { held in
            defer { held = nil }
            return held
        }?.release()
    }
}
