import HummingbirdCore
import Logging
import NIOCore
import NIOExtras
import NIOPosix
import ServiceLifecycle

/// Serves connections accepted on a socket that was bound and set listening before Framecast
/// started (systemd's socket activation hands it over as a descriptor). Hummingbird's own server
/// binds only host names and socket paths, so this does what it does for one: accept, hand each
/// connection to the same child channel, and on graceful shutdown stop accepting and let open
/// requests finish (the quiescing helper tells each connection to close once idle).
struct InheritedSocketServer<ChildChannel: ServerChildChannel>: Service {
    let descriptor: Int32
    let childChannel: ChildChannel
    let eventLoopGroup: any EventLoopGroup
    let logger: Logger
    let onRunning: @Sendable (any Channel) async -> Void

    func run() async throws {
        let quiescing = ServerQuiescingHelper(group: eventLoopGroup)
        let childChannel = self.childChannel
        let logger = self.logger
        let server = try await ServerBootstrap(group: eventLoopGroup)
            .serverChannelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandler(quiescing.makeServerChannelHandler(channel: channel))
                }
            }
            .childChannelOption(ChannelOptions.allowRemoteHalfClosure, value: true)
            .bind(NIOBSDSocket.Handle(descriptor)) { channel in
                childChannel.setup(channel: channel, logger: logger)
            }
        await withGracefulShutdownHandler {
            await onRunning(server.channel)
            await withDiscardingTaskGroup { connections in
                do {
                    try await server.executeThenClose { inbound in
                        for try await connection in inbound {
                            connections.addTask { await childChannel.handle(value: connection, logger: logger) }
                        }
                    }
                } catch {
                    logger.error("accepting on the inherited socket failed: \(error)")
                }
            }
        } onGracefulShutdown: {
            quiescing.initiateShutdown(promise: nil)
        }
    }
}
