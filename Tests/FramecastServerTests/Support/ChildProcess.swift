import Foundation

/// Any program run as a child (framecast itself, `systemd-socket-activate`, nginx) with an
/// environment of the test's choosing and its stderr collected as it comes. Killed when released,
/// so a failing test leaves nothing running.
final class ChildProcess: @unchecked Sendable {
    let process = Process()
    let name: String
    private let standardError: Pipe
    private let lock = NSLock()
    private var errorText = Data()

    /// `environment` replaces the test's own; `standardError` lets a test fstat the pipe first.
    init(_ executable: String, _ arguments: [String], environment: [String: String]? = nil, standardError: Pipe = Pipe()) {
        name = URL(fileURLWithPath: executable).lastPathComponent
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = arguments
        if let environment { process.environment = environment }
        self.standardError = standardError
        process.standardError = standardError
        process.standardOutput = FileHandle.nullDevice
        process.standardInput = FileHandle.nullDevice
        standardError.fileHandleForReading.readabilityHandler = { [weak self] handle in
            let data = handle.availableData
            guard let self, !data.isEmpty else { return }
            self.lock.withLock { self.errorText.append(data) }
        }
    }

    /// The test's environment with these changes (nil removes a variable).
    static func environment(_ changes: [String: String?]) -> [String: String] {
        var environment = ProcessInfo.processInfo.environment
        for (key, value) in changes { environment[key] = value }
        return environment
    }

    func run() throws { try process.run() }

    var pid: Int32 { process.processIdentifier }
    var isRunning: Bool { process.isRunning }

    /// What the child has written to stderr so far.
    var standardErrorText: String { lock.withLock { String(decoding: errorText, as: UTF8.self) } }

    var standardErrorLines: [String] { standardErrorText.split(separator: "\n").map(String.init) }

    func signal(_ number: Int32) {
        if process.isRunning { kill(process.processIdentifier, number) }
    }

    /// Waits for the child to exit; its status (or the signal that ended it, negated).
    @discardableResult
    func waitForExit(within seconds: Double) async throws -> Int32 {
        try await eventually(seconds, "\(name) to exit; stderr: \(standardErrorText.suffix(2000))") { !process.isRunning }
        return process.terminationReason == .exit ? process.terminationStatus : -process.terminationStatus
    }

    /// SIGTERM, then SIGKILL if it has not gone within `seconds`.
    func stop(within seconds: Double = 5) async {
        guard process.isRunning else { return }
        signal(SIGTERM)
        if (try? await waitForExit(within: seconds)) == nil { signal(SIGKILL) }
    }

    deinit {
        if process.isRunning { kill(process.processIdentifier, SIGKILL) }
    }
}
