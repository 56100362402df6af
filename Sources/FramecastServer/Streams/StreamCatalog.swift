public import Logging
public import MediaPipeline
public import ServiceLifecycle
import Synchronization

/// The streams being served, by name, with their renditions. A reload (`apply`) adds, removes
/// and changes streams while the server runs; every route looks a stream up here per request.
///
/// It is also the service that runs them: each stream begins when the server starts (or when a
/// reload adds it) and is shut down when the server stops (or when a reload removes it).
public final class StreamCatalog: Service, Sendable {
    struct Entry: Sendable {
        let supervisor: StreamSupervisor
        let renditions: RenditionSet
        let definition: StreamDefinition
        /// The named renditions it was given (its file's and the flags'), to tell a change.
        let namedRenditions: [String: RenditionRequest]
    }

    /// What a stream is made of: the hooks `buildApplication` gives.
    struct Factory: Sendable {
        let makeSupervisor: @Sendable (StreamDefinition) throws(PipelineError) -> StreamSupervisor
        let makeRenditions: @Sendable (StreamSupervisor, [String: RenditionRequest]) -> RenditionSet
        let namedRenditions: @Sendable (StreamDefinition) -> [String: RenditionRequest]
        let logger: Logger
    }

    private struct State {
        /// Sorted by name.
        var entries: [Entry]
        /// Streams a reload removed whose pipeline has not stopped yet (a camera driver stuck in
        /// a call): still probed by the watchdog, by name.
        var retiring: [ObjectIdentifier: StreamSupervisor] = [:]
        var running = false
        var shutDown = false
    }

    private let state: Mutex<State>
    private let factory: Factory
    /// Serialises reloads: two at once would each diff against the same old set.
    private let reloading = Mutex(false)

    /// Validates and builds every stream (throws the first `PipelineError`); runs nothing.
    init(_ definitions: [StreamDefinition], factory: Factory) throws(PipelineError) {
        precondition(!definitions.isEmpty, "a server needs at least one stream")
        self.factory = factory
        var entries: [Entry] = []
        for definition in definitions {
            entries.append(try Self.makeEntry(definition, factory: factory))
        }
        self.state = Mutex(State(entries: entries.sorted { $0.definition.name < $1.definition.name }))
    }

    private static func makeEntry(_ definition: StreamDefinition, factory: Factory) throws(PipelineError) -> Entry {
        let supervisor = try factory.makeSupervisor(definition)
        let named = factory.namedRenditions(definition)
        return Entry(supervisor: supervisor, renditions: factory.makeRenditions(supervisor, named), definition: definition, namedRenditions: named)
    }

    /// The streams in name order.
    public var streams: [StreamSupervisor] { state.withLock { $0.entries.map(\.supervisor) } }
    /// The stream `/stream` and `/snapshot` serve: the first in name order.
    public var first: StreamSupervisor { state.withLock { $0.entries[0].supervisor } }
    public var names: [String] { state.withLock { $0.entries.map(\.definition.name) } }

    public func named(_ name: String) -> StreamSupervisor? { entry(name)?.supervisor }

    /// The renditions of the stream named `name`.
    public func renditions(of name: String) -> RenditionSet? { entry(name)?.renditions }

    /// Every stream whose queue must answer for the server to be healthy: those served, and
    /// those a reload removed that have not stopped yet.
    public var streamsToProbe: [StreamSupervisor] {
        state.withLock { $0.entries.map(\.supervisor) + Array($0.retiring.values) }
    }

    /// The definitions being served, in name order.
    public var definitions: [StreamDefinition] { state.withLock { $0.entries.map(\.definition) } }

    private func entry(_ name: String) -> Entry? {
        state.withLock { state in state.entries.first { $0.definition.name == name } }
    }

    /// A stream's status with its live renditions.
    public func status(of supervisor: StreamSupervisor) -> StreamStatus {
        var status = supervisor.status()
        status.renditions = renditions(of: supervisor.name)?.status()
        return status
    }

    // MARK: - Service

    public func run() async throws {
        let streams = state.withLock { state -> [StreamSupervisor] in
            state.running = true
            return state.entries.map(\.supervisor)
        }
        for stream in streams { stream.begin() }
        // Runs until the service group shuts down; reloads happen meanwhile.
        try? await gracefulShutdown()
        let entries = state.withLock { state -> [Entry] in
            state.shutDown = true
            return state.entries
        }
        // Renditions first: they are consumers of their source streams. Bounded: a pipeline stuck
        // in a call it cannot interrupt must not hold the exit (the service group ends the
        // process when cancellation takes too long).
        let stopped = await Self.within(seconds: 1.5) {
            for entry in entries { await entry.renditions.shutdown() }
            await withTaskGroup(of: Void.self) { group in
                for entry in entries { group.addTask { await entry.supervisor.shutdown() } }
            }
        }
        if !stopped {
            factory.logger.error("a pipeline did not stop within 1.5 s of shutdown (an element is stuck in a call): exiting without waiting for it")
        }
    }

    /// Runs `operation` in a task of its own and waits for it at most `seconds`: true when it
    /// finished. One that does not is left running (it cannot be interrupted).
    static func within(seconds: Double, _ operation: @escaping @Sendable () async -> Void) async -> Bool {
        let finished = OneAnswer()
        Task {
            await operation()
            finished.answer(true)
        }
        Task {
            try? await Task.sleep(for: .seconds(seconds))
            finished.answer(false)
        }
        return await finished.value
    }

    // MARK: - Reload

    /// What a reload did, stream names in order.
    public struct ReloadReport: Sendable, Equatable, Codable {
        public var added: [String] = []
        public var removed: [String] = []
        /// Pipeline or renditions changed: restarted in place, viewers kept.
        public var changed: [String] = []
        public var unchanged: [String] = []
    }

    public enum ReloadFailure: Error, Sendable, CustomStringConvertible {
        case pipeline(stream: String, PipelineError)
        case noStreams
        case busy
        case shutDown

        public var description: String {
            switch self {
            case .pipeline(let stream, let error): "stream \(stream): \(error.description)"
            case .noStreams: "the new configuration has no stream"
            case .busy: "a reload is already in progress"
            case .shutDown: "the server is shutting down"
            }
        }
    }

    /// Serves `definitions` from now on. Every new or changed pipeline is validated before
    /// anything changes: on a failure nothing does. Then streams no longer defined end (their
    /// viewers get a closing boundary), new ones appear, changed ones switch pipelines with their
    /// viewers still connected, and the rest are not touched.
    public func apply(_ definitions: [StreamDefinition]) async throws(ReloadFailure) -> ReloadReport {
        guard !definitions.isEmpty else { throw .noStreams }
        // `StreamReloader` runs one reload at a time; this guards direct callers.
        guard reloading.withLock({ busy in
            defer { busy = true }
            return !busy
        }) else { throw .busy }
        defer { reloading.withLock { $0 = false } }

        let old = Dictionary(uniqueKeysWithValues: state.withLock { $0.entries }.map { ($0.definition.name, $0) })
        var report = ReloadReport()
        var kept: [Entry] = []
        var added: [Entry] = []
        var pipelineChanges: [(StreamSupervisor, String)] = []
        var retiredRenditions: [RenditionSet] = []
        // Validate and build everything first, touching nothing that runs.
        for definition in definitions.sorted(by: { $0.name < $1.name }) {
            guard let current = old[definition.name] else {
                do throws(PipelineError) {
                    added.append(try Self.makeEntry(definition, factory: factory))
                } catch {
                    throw .pipeline(stream: definition.name, error)
                }
                report.added.append(definition.name)
                continue
            }
            let named = factory.namedRenditions(definition)
            let pipelineChanged = current.definition.pipeline != definition.pipeline
            let renditionsChanged = current.namedRenditions != named
            if pipelineChanged {
                do throws(PipelineError) {
                    try Pipeline.validate(definition.pipeline)
                } catch {
                    throw .pipeline(stream: definition.name, error)
                }
                pipelineChanges.append((current.supervisor, definition.pipeline))
            }
            var renditions = current.renditions
            if renditionsChanged {
                retiredRenditions.append(current.renditions)
                renditions = factory.makeRenditions(current.supervisor, named)
            }
            if pipelineChanged || renditionsChanged {
                report.changed.append(definition.name)
            } else {
                report.unchanged.append(definition.name)
            }
            kept.append(Entry(supervisor: current.supervisor, renditions: renditions, definition: definition, namedRenditions: named))
        }
        let names = Set(definitions.map(\.name))
        let removed = old.values.filter { !names.contains($0.definition.name) }.sorted { $0.definition.name < $1.definition.name }
        report.removed = removed.map(\.definition.name)

        for (supervisor, pipeline) in pipelineChanges {
            do throws(PipelineError) {
                try supervisor.replacePipeline(pipeline)
            } catch {
                // Validated above; only a plugin removed in between lands here.
                throw .pipeline(stream: supervisor.name, error)
            }
        }
        let running = state.withLock { state -> Bool? in
            guard !state.shutDown else { return nil }
            state.entries = (kept + added).sorted { $0.definition.name < $1.definition.name }
            for entry in removed { state.retiring[ObjectIdentifier(entry.supervisor)] = entry.supervisor }
            return state.running
        }
        guard let running else { throw .shutDown }
        if running {
            for entry in added { entry.supervisor.begin() }
        }
        // Ended now (their viewers get the closing boundary at once), stopped in the background:
        // a removed camera whose driver hangs must not hold the reload, nor every later one.
        for set in retiredRenditions { Task { await set.shutdown() } }
        for entry in removed {
            Task {
                await entry.renditions.shutdown()
                await entry.supervisor.shutdown()
                _ = self.state.withLock { $0.retiring.removeValue(forKey: ObjectIdentifier(entry.supervisor)) }
            }
        }
        return report
    }
}

/// The first of several answers, awaited once.
private final class OneAnswer: Sendable {
    private let state = Mutex<(answer: Bool?, waiter: CheckedContinuation<Bool, Never>?)>((nil, nil))

    func answer(_ value: Bool) {
        let waiter = state.withLock { state -> CheckedContinuation<Bool, Never>? in
            guard state.answer == nil else { return nil }
            state.answer = value
            defer { state.waiter = nil }
            return state.waiter
        }
        waiter?.resume(returning: value)
    }

    var value: Bool {
        get async {
            await withCheckedContinuation { waiter in
                let answered = state.withLock { state -> Bool? in
                    if state.answer == nil { state.waiter = waiter }
                    return state.answer
                }
                if let answered { waiter.resume(returning: answered) }
            }
        }
    }
}
