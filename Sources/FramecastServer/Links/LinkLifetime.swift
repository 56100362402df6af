/// How long a signed link stays valid: `90` or `90s`, `15m`, `12h`, `7d`; from 1 second to 10
/// years. Whole numbers only, at most 12 digits before the unit: `1e300`, `nan`, `-1`, `1.5h` and
/// `18446744073709551617` are refused with the reason, never rounded or overflowed.
public enum LinkLifetime {
    public static let minimum: Int64 = 1
    /// Ten years of 365 days.
    public static let maximum: Int64 = 10 * 365 * 86_400
    /// What `framecast link` and `POST /api/links` use when none is given.
    public static let standard = "7d"

    public struct Refusal: Error, Sendable, Equatable, CustomStringConvertible {
        public let description: String
    }

    /// Seconds, or why `text` is not a lifetime.
    public static func parse(_ text: String) -> Result<Int64, Refusal> {
        let refusal = Refusal(
            description: "the link's lifetime must be a whole number of seconds, or of minutes, hours or days with s, m, h or d after it (e.g. 7d), from 1 second to 10 years, not '\(BoundedNumber.quotable(text))'")
        var digits = Substring(text)
        let units: [Character: Int64] = ["s": 1, "m": 60, "h": 3600, "d": 86_400]
        var unit: Int64 = 1
        if let last = text.last, let named = units[last] {
            unit = named
            digits = digits.dropLast()
        }
        guard !digits.isEmpty, digits.count <= 12, digits.utf8.allSatisfy({ (UInt8(ascii: "0")...UInt8(ascii: "9")).contains($0) }),
            let count = Int64(digits)
        else { return .failure(refusal) }
        // 12 digits times a day's seconds fits an Int64 many times over.
        let seconds = count * unit
        guard seconds >= minimum, seconds <= maximum else { return .failure(refusal) }
        return .success(seconds)
    }
}
