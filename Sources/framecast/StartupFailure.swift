import ArgumentParser
import Foundation
import Synchronization

/// A start-up problem: printed to stderr, exit status 2.
struct StartupFailure: Error, CustomStringConvertible {
    let message: String
    init(_ message: String) { self.message = message }

    var description: String { message }

    /// While a configuration is checked rather than started (a reload, one key of a file), the
    /// messages are kept for the caller instead of printed.
    private static let kept = Mutex<[String]?>(nil)

    var exitCode: ExitCode {
        let printed = Self.kept.withLock { kept -> Bool in
            guard kept != nil else { return false }
            kept?.append(message)
            return true
        }
        if !printed {
            FileHandle.standardError.write(Data("framecast: \(message)\n".utf8))
        }
        return ExitCode(2)
    }

    /// Runs `body` with start-up messages kept, not printed: an `ExitCode` it throws comes back as
    /// a `StartupFailure` with the message that went with it.
    static func quietly<T, E: Error>(_ body: () throws(E) -> T) throws -> T {
        kept.withLock { $0 = [] }
        defer { kept.withLock { $0 = nil } }
        do {
            return try body()
        } catch {
            // ArgumentParser wraps what `validate()` throws: the message kept is the one to show.
            if let message = kept.withLock({ $0?.last }) { throw StartupFailure(message) }
            throw error
        }
    }
}
