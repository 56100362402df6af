import Dispatch
public import NIOCore
public import NIOPosix
import Synchronization

/// Whether the parts that must answer for the server to be useful do: every event loop (all HTTP
/// work) and every stream's lifecycle queue (where pipelines start and stop). A hung driver that
/// blocks a queue, or a loop stuck in a call, makes the probe fail, and the watchdog stops
/// telling systemd all is well so that it restarts the service.
public struct HealthProbe: Sendable {
    let catalog: StreamCatalog
    let eventLoopGroup: any EventLoopGroup

    public init(catalog: StreamCatalog, eventLoopGroup: any EventLoopGroup = MultiThreadedEventLoopGroup.singleton) {
        self.catalog = catalog
        self.eventLoopGroup = eventLoopGroup
    }

    /// What did not answer within `seconds`: empty when healthy.
    public func unanswered(within seconds: Double) async -> [String] {
        var probes: [(String, @Sendable (@escaping @Sendable () -> Void) -> Void)] = []
        for (index, loop) in eventLoopGroup.makeIterator().enumerated() {
            probes.append(("event loop \(index)", { answer in loop.execute(answer) }))
        }
        for stream in catalog.streamsToProbe {
            probes.append(("stream \(stream.name)'s queue", { answer in stream.onQueue(answer) }))
        }
        return await withTaskGroup(of: String?.self) { group in
            for (name, probe) in probes {
                group.addTask { await Self.answers(within: seconds, probe) ? nil : name }
            }
            var stuck: [String] = []
            for await name in group { if let name { stuck.append(name) } }
            return stuck.sorted()
        }
    }

    /// Runs `probe` with a callback and waits at most `seconds` for it to be called.
    private static func answers(within seconds: Double, _ probe: (@escaping @Sendable () -> Void) -> Void) async -> Bool {
        await withCheckedContinuation { (done: CheckedContinuation<Bool, Never>) in
            let pending = Mutex<CheckedContinuation<Bool, Never>?>(done)
            probe { pending.withLock { $0.take() }?.resume(returning: true) }
            DispatchQueue.global().asyncAfter(deadline: .now() + seconds) {
                pending.withLock { $0.take() }?.resume(returning: false)
            }
        }
    }
}
