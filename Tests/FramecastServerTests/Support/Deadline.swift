import Foundation

/// Runs `operation`, failing with `HTTPTestError.timedOut` if it takes longer than `seconds`.
/// Tests wait on conditions with deadlines like this one, never on fixed sleeps.
func withDeadline<T: Sendable>(_ seconds: Double, _ what: String, _ operation: @escaping @Sendable () async throws -> T) async throws -> T {
    try await withThrowingTaskGroup(of: T.self) { group in
        group.addTask { try await operation() }
        group.addTask {
            try await Task.sleep(for: .milliseconds(Int(seconds * 1000)))
            throw HTTPTestError.timedOut("\(what) (after \(seconds) s)")
        }
        defer { group.cancelAll() }
        return try await group.next()!
    }
}

/// Polls `condition` every 50 ms until it holds or `seconds` pass: for state that has no event
/// to wait on from outside (the server's JSON status).
func eventually(_ seconds: Double, _ what: String, _ condition: () async throws -> Bool) async throws {
    let deadline = Date().addingTimeInterval(seconds)
    while Date() < deadline {
        if try await condition() { return }
        try await Task.sleep(for: .milliseconds(50))
    }
    throw HTTPTestError.timedOut(what)
}
