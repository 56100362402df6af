import HummingbirdCore
import Logging
import NIOCore

/// A plain HTTP/1.1 (and WebSocket) listener's connections, with what every connection gets
/// (`ConnectionSetup`).
struct TunedChildChannel<Base: ServerChildChannel>: ServerChildChannel {
    typealias Value = Base.Value

    let base: Base
    let setup: ConnectionSetup

    func setup(channel: any Channel, logger: Logger) -> EventLoopFuture<Value> {
        setup.prepare(channel, logger: logger).flatMap { deadline in
            base.setup(channel: channel, logger: logger).flatMapThrowing { value in
                try setup.gateHTTP1(channel, deadline: deadline.value)
                return value
            }
        }
    }

    func handle(value: Value, logger: Logger) async {
        await base.handle(value: value, logger: logger)
        // A request that fails to parse (a malformed request line, oversized or broken headers)
        // ends the handler without closing the connection when the WebSocket upgrade is in the
        // pipeline: close it here, or a hostile client holds it forever.
        try? await value.channel.close()
    }
}
