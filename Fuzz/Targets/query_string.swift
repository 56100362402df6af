/// A request's query string, read the way Hummingbird's `URI.queryParameters` reads it: split on
/// `&`, then on the first `=`; the value is percent-decoded (kept as sent when the encoding is
/// malformed), the key is not. `fps` and `max_age` values go to `Limits.fps` and `Limits.maxAge` as
/// the stream and snapshot routes send them; every other value goes to both, for coverage.
///
/// Input: the query string (what follows `?`).
///
/// Invariants: those of `BoundedNumber` (see Support/BoundedNumberChecks.swift), plus: an accepted `fps` gives
/// a whole frame interval in nanoseconds (`UInt64(1e9 / fps)`, as `ClientRateLimit` computes it)
/// and an accepted `max_age` fits `Int64` milliseconds, without trapping.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafeRawPointer, _ size: Int) -> CInt {
    let query = FuzzInput(data, size).text
    for pair in query.split(separator: "&") {
        let key: Substring
        let value: String
        if let equals = pair.firstIndex(of: "=") {
            key = pair[..<equals]
            let raw = pair[pair.index(after: equals)...]
            value = percentDecoded(raw) ?? String(raw)
        } else {
            key = pair
            value = ""
        }
        switch key {
        case "fps": checkFPS(value)
        case "max_age": checkMaxAge(value)
        default:
            checkFPS(value)
            checkMaxAge(value)
        }
    }
    return 0
}

private func checkFPS(_ value: String) {
    checkBoundedNumber(Limits.fps, value)
    if case .success(let fps) = Limits.fps.parse(value) {
        let interval = 1e9 / fps
        invariant(interval.isFinite && interval >= 1 && interval < 1.8e19, "fps \(fps) gives the interval \(interval) ns")
        _ = UInt64(interval)
    }
}

private func checkMaxAge(_ value: String) {
    checkBoundedNumber(Limits.maxAge, value)
    if case .success(let milliseconds) = Limits.maxAge.parseWhole(value) {
        _ = Int64(milliseconds)
        invariant((0...86_400_000).contains(milliseconds), "max_age \(milliseconds) ms")
    }
}

/// Hummingbird's `removingURLPercentEncoding`: `%XX` becomes the byte, `+` stays; nil when a `%`
/// is not followed by two hex digits. The bytes are then read as UTF-8 (U+FFFD for invalid ones).
private func percentDecoded(_ text: Substring) -> String? {
    var output: [UInt8] = []
    var bytes = text.utf8.makeIterator()
    while let byte = bytes.next() {
        guard byte == UInt8(ascii: "%") else {
            output.append(byte)
            continue
        }
        guard let high = bytes.next().flatMap(hexDigit), let low = bytes.next().flatMap(hexDigit) else { return nil }
        output.append(high << 4 | low)
    }
    return String(decoding: output, as: UTF8.self)
}

private func hexDigit(_ byte: UInt8) -> UInt8? {
    switch byte {
    case UInt8(ascii: "0")...UInt8(ascii: "9"): byte - UInt8(ascii: "0")
    case UInt8(ascii: "a")...UInt8(ascii: "f"): byte - UInt8(ascii: "a") + 10
    case UInt8(ascii: "A")...UInt8(ascii: "F"): byte - UInt8(ascii: "A") + 10
    default: nil
    }
}
