import Glibc
public import Logging

/// Log lines for journald, which a service's stderr reaches when systemd runs it
/// (`JOURNAL_STREAM` set): journald stamps each line itself, so no timestamp; the level goes in a
/// `<N>` syslog priority prefix journald reads (`journalctl -p warning` then filters); the
/// metadata stays as `key=value` fields after the message.
public struct JournalLogHandler: LogHandler {
    public var logLevel: Logger.Level = .info
    public var metadata: Logger.Metadata = [:]
    private let label: String

    public init(label: String) {
        self.label = label
    }

    /// Whether stderr is the journal: `JOURNAL_STREAM` names stderr's device and inode, so a
    /// child that inherited the variable but writes elsewhere keeps its timestamps.
    public static func stderrIsJournal(environment: [String: String]) -> Bool {
        guard let value = environment["JOURNAL_STREAM"] else { return false }
        let parts = value.split(separator: ":")
        guard parts.count == 2, let device = UInt64(parts[0]), let inode = UInt64(parts[1]) else { return false }
        var status = stat()
        guard fstat(STDERR_FILENO, &status) == 0 else { return false }
        return UInt64(status.st_dev) == device && UInt64(status.st_ino) == inode
    }

    public subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    public func log(event: LogEvent) {
        var fields = metadata
        if let extra = event.metadata { fields.merge(extra) { _, new in new } }
        var line = "<\(Self.priority(event.level))>\(label): \(event.message)"
        for (key, value) in fields.sorted(by: { $0.key < $1.key }) { line += " \(key)=\(value)" }
        line += "\n"
        _ = line.utf8CString.withUnsafeBufferPointer { bytes in
            write(STDERR_FILENO, bytes.baseAddress, bytes.count - 1)
        }
    }

    /// syslog(3) priorities: 7 debug ... 2 critical.
    static func priority(_ level: Logger.Level) -> Int {
        switch level {
        case .trace, .debug: 7
        case .info: 6
        case .notice: 5
        case .warning: 4
        case .error: 3
        case .critical: 2
        }
    }
}
