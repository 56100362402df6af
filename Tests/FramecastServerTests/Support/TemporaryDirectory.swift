import Foundation

/// A directory of its own under /tmp for one test (sockets, FIFOs, nginx's files), removed when
/// released. Short paths: a unix socket's path must fit in 108 bytes.
final class TemporaryDirectory: Sendable {
    let path: String

    init(_ label: String) throws {
        var template = Array("/tmp/framecast-\(label)-XXXXXX".utf8CString)
        guard let made = mkdtemp(&template) else { throw HTTPTestError.closed("making a temporary directory: errno \(errno)") }
        path = String(cString: made)
    }

    var url: URL { URL(fileURLWithPath: path) }

    func file(_ name: String) -> String { "\(path)/\(name)" }

    deinit { try? FileManager.default.removeItem(atPath: path) }
}
