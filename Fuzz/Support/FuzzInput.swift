/// What every harness shares: reading libFuzzer's bytes and stopping on a broken invariant.
/// Compiled into each fuzz target next to the project files it tests (see `Fuzz/run.sh`).

/// Stops with `message` when `condition` is false: libFuzzer reports the crash and saves the input.
/// `fatalError`, not `precondition`: the targets are built with -O, which keeps a precondition's
/// check but drops its message.
func invariant(_ condition: @autoclosure () -> Bool, _ message: @autoclosure () -> String) {
    if !condition() { fatalError("fuzz invariant broken: \(message())") }
}

struct FuzzInput {
    let bytes: UnsafeRawBufferPointer

    init(_ data: UnsafeRawPointer, _ size: Int) {
        bytes = UnsafeRawBufferPointer(start: data, count: size)
    }

    /// The bytes as text; invalid UTF-8 becomes U+FFFD, as it does for a request's text.
    var text: String { String(decoding: bytes, as: UTF8.self) }

    /// The bytes split on NUL, each part as text: how a harness takes several strings from one input
    /// (a template and its `--set` assignments, a `Host` and an `Origin`).
    var fields: [String] {
        bytes.split(separator: 0, omittingEmptySubsequences: false).map { String(decoding: $0, as: UTF8.self) }
    }
}

extension StringProtocol {
    /// How many of the text's Unicode scalars satisfy `predicate`. Scalars, not Characters: a
    /// Character can hide a `!` behind a combining mark, bytes are what a parser downstream reads.
    func scalarCount(where predicate: (Unicode.Scalar) -> Bool) -> Int {
        unicodeScalars.reduce(0) { $0 + (predicate($1) ? 1 : 0) }
    }

    /// No byte below 0x20 and no DEL: safe to put in a response body or a log line.
    var isFreeOfControlBytes: Bool {
        utf8.allSatisfy { $0 >= 0x20 && $0 != 0x7F }
    }
}
