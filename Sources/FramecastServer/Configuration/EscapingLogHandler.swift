public import Logging

/// Wraps a log handler so that no text from outside can forge a log line: control characters in
/// the message and in metadata values (a user name holding a newline, a path with an escape
/// sequence, an element's message) are written as `\n`, `\u{1B}` and the like.
public struct EscapingLogHandler: LogHandler {
    private var base: any LogHandler

    public init(_ base: any LogHandler) {
        self.base = base
    }

    public var logLevel: Logger.Level {
        get { base.logLevel }
        set { base.logLevel = newValue }
    }

    public var metadata: Logger.Metadata {
        get { base.metadata }
        set { base.metadata = Self.escape(newValue) }
    }

    public subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { base[metadataKey: key] }
        set { base[metadataKey: key] = newValue.map(Self.escape) }
    }

    public func log(event: LogEvent) {
        var event = event
        event.message = Logger.Message(stringLiteral: Self.escape(event.message.description))
        event.metadata = event.metadata.map(Self.escape)
        base.log(event: event)
    }

    static func escape(_ metadata: Logger.Metadata) -> Logger.Metadata {
        metadata.mapValues(escape)
    }

    static func escape(_ value: Logger.Metadata.Value) -> Logger.Metadata.Value {
        switch value {
        case .string(let text): .string(quoted(escape(text)))
        case .stringConvertible(let convertible): .string(quoted(escape(convertible.description)))
        case .array(let values): .array(values.map(escape))
        case .dictionary(let values): .dictionary(values.mapValues(escape))
        }
    }

    /// A metadata value printed as `key=value` among others: one holding a space, `=` or `"` is
    /// quoted (inner quotes and backslashes escaped), so `user=eve address=10.9.9.9` cannot pass
    /// for two fields to a log reader such as fail2ban.
    static func quoted(_ text: String) -> String {
        guard text.contains(where: { $0 == " " || $0 == "=" || $0 == "\"" }) else { return text }
        return "\"" + text.replacingBackslashesAndQuotes() + "\""
    }

    /// C0 and C1 control characters, DEL and the Unicode line and paragraph separators, escaped;
    /// everything else as it is (the fast path allocates nothing).
    public static func escape(_ text: String) -> String {
        guard text.unicodeScalars.contains(where: needsEscape) else { return text }
        var escaped = ""
        for scalar in text.unicodeScalars {
            switch scalar {
            case "\n": escaped += "\\n"
            case "\r": escaped += "\\r"
            case "\t": escaped += "\\t"
            case _ where needsEscape(scalar): escaped += "\\u{\(String(scalar.value, radix: 16, uppercase: true))}"
            default: escaped.unicodeScalars.append(scalar)
            }
        }
        return escaped
    }

    private static func needsEscape(_ scalar: Unicode.Scalar) -> Bool {
        let value = scalar.value
        return value < 0x20 || (0x7F...0x9F).contains(value) || value == 0x2028 || value == 0x2029
    }
}

extension String {
    fileprivate func replacingBackslashesAndQuotes() -> String {
        var result = ""
        for character in self {
            if character == "\\" || character == "\"" { result.append("\\") }
            result.append(character)
        }
        return result
    }
}
