/// `RequestPath.problem(in:)`: the raw, still percent-encoded path, before any route or file
/// lookup sees it.
///
/// Input: the path.
///
/// Invariants: a path holding a byte below 0x20 or 0x7F, raw or as `%XX`, is refused; so is a `%`
/// not followed by two hex digits; a path with neither is served (the two rules, written out here
/// independently of the code, must agree with it both ways).
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafeRawPointer, _ size: Int) -> CInt {
    let path = FuzzInput(data, size).text
    let problem = RequestPath.problem(in: path)
    let expected = expectedProblem(Array(path.utf8))
    if let expected {
        invariant(problem != nil, "\(path.debugDescription) holds \(expected) and was let through")
    } else {
        invariant(problem == nil, "\(path.debugDescription) was refused (\(problem ?? "")) though it is clean")
    }
    return 0
}

private func isControl(_ byte: UInt8) -> Bool { byte < 0x20 || byte == 0x7F }

private func expectedProblem(_ bytes: [UInt8]) -> String? {
    if let byte = bytes.first(where: isControl) { return "the raw control byte \(byte)" }
    var index = 0
    while index < bytes.count {
        defer { index += 1 }
        guard bytes[index] == UInt8(ascii: "%") else { continue }
        guard index + 2 < bytes.count, let value = UInt8(String(decoding: bytes[index + 1...index + 2], as: UTF8.self), radix: 16),
            bytes[index + 1] != UInt8(ascii: "+"), bytes[index + 1] != UInt8(ascii: "-")
        else { return "a malformed percent-encoding at byte \(index)" }
        if isControl(value) { return "the encoded control byte \(value)" }
        index += 2
    }
    return nil
}
