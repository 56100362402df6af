/// A number that comes from outside (a query parameter, a command-line flag) read into a closed
/// range. Anything else is refused with a reason that names the range, so no later conversion
/// (seconds to nanoseconds, fps to an interval) can overflow or trap.
///
/// Only plain decimals are accepted: digits, at most one `.` with digits on both sides, no sign,
/// exponent, hex, comma, `nan`, `inf` or surrounding space. `Double("0x10")` and `Double("1e300")`
/// both succeed in Swift, which is why the text is checked before it is converted.
/// Imports nothing: it is fuzzed on its own (see `Fuzz/`).
public struct BoundedNumber: Sendable, Equatable {
    public let minimum: Double
    public let maximum: Double
    /// Whole numbers only (ports, counts, milliseconds).
    public let wholeOnly: Bool
    /// What the number is, for the reason ("fps", "--client-timeout").
    public let name: String
    /// The unit after the range in the reason ("seconds"), or "".
    public let unit: String

    public init(_ name: String, _ range: ClosedRange<Double>, unit: String = "", wholeOnly: Bool = false) {
        precondition(range.lowerBound.isFinite && range.upperBound.isFinite)
        self.name = name
        self.minimum = range.lowerBound
        self.maximum = range.upperBound
        self.wholeOnly = wholeOnly
        self.unit = unit
    }

    public static func whole(_ name: String, _ range: ClosedRange<Int>, unit: String = "") -> BoundedNumber {
        BoundedNumber(name, Double(range.lowerBound)...Double(range.upperBound), unit: unit, wholeOnly: true)
    }

    /// "fps must be a number from 0.001 to 1000"; the text as it came is quoted after it.
    public var rangeDescription: String {
        let kind = wholeOnly ? "a whole number" : "a number"
        let suffix = unit.isEmpty ? "" : " \(unit)"
        return "\(name) must be \(kind) from \(Self.format(minimum)) to \(Self.format(maximum))\(suffix)"
    }

    public struct Refusal: Error, Sendable, Equatable, CustomStringConvertible {
        public let description: String
    }

    /// The value, or why `text` is not one.
    public func parse(_ text: String) -> Result<Double, Refusal> {
        guard let value = Self.plainDecimal(text), value >= minimum, value <= maximum else {
            return .failure(Refusal(description: "\(rangeDescription), not '\(Self.quotable(text))'"))
        }
        if wholeOnly, value.rounded(.towardZero) != value {
            return .failure(Refusal(description: "\(rangeDescription), not '\(Self.quotable(text))'"))
        }
        return .success(value)
    }

    /// `parse` for whole numbers.
    public func parseWhole(_ text: String) -> Result<Int, Refusal> {
        parse(text).map { Int($0) }
    }

    /// Digits with at most one inner `.`; at most 32 characters (longer is no number of ours).
    static func plainDecimal(_ text: String) -> Double? {
        let bytes = Array(text.utf8)
        guard !bytes.isEmpty, bytes.count <= 32 else { return nil }
        var dots = 0
        for (index, byte) in bytes.enumerated() {
            switch byte {
            case UInt8(ascii: "0")...UInt8(ascii: "9"):
                continue
            case UInt8(ascii: "."):
                dots += 1
                guard dots == 1, index > 0, index < bytes.count - 1 else { return nil }
            default:
                return nil
            }
        }
        return Double(text)
    }

    /// What was sent, as the refusal quotes it back (see `EchoedText`), `…` when cut.
    public static func quotable(_ text: String) -> String {
        EchoedText.printable(text, limit: 40) + (text.unicodeScalars.count > 40 ? "…" : "")
    }

    public static func format(_ value: Double) -> String {
        if value == value.rounded(), abs(value) < 1e15 { return String(Int64(value)) }
        return String(value)
    }
}

extension Double {
    /// Seconds as whole nanoseconds, saturating instead of trapping: for values that were not read
    /// through `BoundedNumber` (a configuration built in code).
    var saturatingNanoseconds: Int64 { saturatingWhole(times: 1e9) }

    /// Seconds as whole milliseconds, saturating.
    var saturatingMilliseconds: Int64 { saturatingWhole(times: 1e3) }

    /// `self * scale` as a whole number in `0...Int64.max`: NaN and negatives are 0, anything too
    /// large (infinity included) is `Int64.max`.
    private func saturatingWhole(times scale: Double) -> Int64 {
        let scaled = self * scale
        guard !scaled.isNaN, scaled > 0 else { return 0 }
        return scaled >= 9.2e18 ? Int64.max : Int64(scaled)
    }
}
