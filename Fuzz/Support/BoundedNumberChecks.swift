/// The invariants of `BoundedNumber.parse`, for the `bounded_number` and `query_string` targets.

/// Checks one `parse` of `text` against `limit`'s range.
func checkBoundedNumber(_ limit: BoundedNumber, _ text: String) {
    switch limit.parse(text) {
    case .success(let value):
        invariant(value.isFinite, "\(limit.name): \(text.debugDescription) gave \(value)")
        invariant(value >= limit.minimum && value <= limit.maximum, "\(limit.name): \(text.debugDescription) gave \(value), outside \(limit.minimum)...\(limit.maximum)")
        invariant(!limit.wholeOnly || value.rounded(.towardZero) == value, "\(limit.name): \(text.debugDescription) gave the fraction \(value)")
        invariant(isPlainDecimal(text), "\(limit.name): accepted \(text.debugDescription), which is no plain decimal")
        _ = value.saturatingNanoseconds
        _ = value.saturatingMilliseconds
        if limit.wholeOnly {
            guard case .success(let whole) = limit.parseWhole(text) else {
                invariant(false, "\(limit.name): parse accepted \(text.debugDescription), parseWhole refused it")
                return
            }
            invariant(Double(whole) == value, "\(limit.name): parseWhole gave \(whole) for \(value)")
        }
    case .failure(let refusal):
        invariant(refusal.description.hasPrefix(limit.rangeDescription), "\(limit.name): the refusal does not name the range: \(refusal.description)")
        invariant(refusal.description.isFreeOfControlBytes, "\(limit.name): the refusal echoes a control byte: \(refusal.description.debugDescription)")
        invariant(refusal.description.unicodeScalars.count <= limit.rangeDescription.unicodeScalars.count + 50, "\(limit.name): the refusal echoes too much")
        if case .success = limit.parseWhole(text) {
            invariant(false, "\(limit.name): parse refused \(text.debugDescription), parseWhole accepted it")
        }
        // A plain decimal inside the range must not be refused.
        if isPlainDecimal(text), text.utf8.count <= 32, let value = Double(text), value >= limit.minimum, value <= limit.maximum,
            !limit.wholeOnly || value.rounded(.towardZero) == value
        {
            invariant(false, "\(limit.name): refused \(text.debugDescription), a plain decimal in range")
        }
    }
}

/// `[0-9]+(\.[0-9]+)?`, written out independently of the code under test.
func isPlainDecimal(_ text: String) -> Bool {
    let parts = text.utf8.split(separator: UInt8(ascii: "."), omittingEmptySubsequences: false)
    guard parts.count == 1 || parts.count == 2 else { return false }
    return parts.allSatisfy { part in !part.isEmpty && part.allSatisfy { (UInt8(ascii: "0")...UInt8(ascii: "9")).contains($0) } }
}
