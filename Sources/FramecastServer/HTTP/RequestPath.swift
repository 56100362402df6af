/// Checks a request's path before any route or file lookup sees it. Imports nothing: it is fuzzed
/// on its own (see `Fuzz/`).
enum RequestPath {
    /// Why the raw (still percent-encoded) path cannot be served, or nil. A NUL or other control
    /// character, raw or percent-encoded, has no business in a URL path: `/app.js%00.html` would
    /// otherwise reach the file lookup, which stops at the NUL while the content type is taken
    /// from the name after it.
    static func problem(in rawPath: String) -> String? {
        var bytes = rawPath.utf8.makeIterator()
        while let byte = bytes.next() {
            if byte < 0x20 || byte == 0x7F { return "the path holds a control character" }
            guard byte == UInt8(ascii: "%") else { continue }
            guard let high = bytes.next(), let low = bytes.next(), let value = hexValue(high, low) else {
                return "the path holds a malformed percent-encoding"
            }
            if value < 0x20 || value == 0x7F { return "the path holds an encoded control character" }
        }
        return nil
    }

    private static func hexValue(_ high: UInt8, _ low: UInt8) -> UInt8? {
        guard let h = digit(high), let l = digit(low) else { return nil }
        return h << 4 | l
    }

    private static func digit(_ byte: UInt8) -> UInt8? {
        switch byte {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): byte - UInt8(ascii: "0")
        case UInt8(ascii: "a")...UInt8(ascii: "f"): byte - UInt8(ascii: "a") + 10
        case UInt8(ascii: "A")...UInt8(ascii: "F"): byte - UInt8(ascii: "A") + 10
        default: nil
        }
    }
}
