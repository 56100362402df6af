import ArgumentParser
import Foundation

/// A start-up problem: printed to stderr, exit status 2.
struct StartupFailure: Error {
    let message: String
    init(_ message: String) { self.message = message }

    var exitCode: ExitCode {
        FileHandle.standardError.write(Data("framecast: \(message)\n".utf8))
        return ExitCode(2)
    }
}
