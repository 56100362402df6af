/// `BoundedNumber.parse` for every entry of `Limits.all` (query parameters and command-line flags).
///
/// Input: the first byte picks the entry (modulo the count), the rest is the text.
///
/// Invariants: a success is finite, within `[minimum, maximum]`, whole when `wholeOnly`, and came
/// from a plain decimal (digits with at most one inner `.`); `parseWhole` agrees with `parse`;
/// the seconds conversions do not trap; a refusal names the range and quotes no control byte.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafeRawPointer, _ size: Int) -> CInt {
    let input = FuzzInput(data, size)
    guard let selector = input.bytes.first else { return 0 }
    let limit = Limits.all[Int(selector) % Limits.all.count]
    let text = String(decoding: input.bytes.dropFirst(), as: UTF8.self)
    checkBoundedNumber(limit, text)
    return 0
}
