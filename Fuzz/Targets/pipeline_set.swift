/// `PipelineVariables.assign`: `--set NAME=VALUE` and `--set STREAM.NAME=VALUE`.
///
/// Input: one or more assignments split on NUL, applied in order.
///
/// Invariants: an accepted assignment stores exactly the text after the first `=` under a variable
/// name (letters, digits and `_`, not starting with a digit; ASCII), for every stream or for one
/// valid stream name; a text without `=` is refused; a refused one changes nothing.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafeRawPointer, _ size: Int) -> CInt {
    var variables = PipelineVariables()
    for assignment in FuzzInput(data, size).fields {
        let before = variables
        do {
            try variables.assign(assignment)
        } catch {
            invariant(before.global == variables.global && before.perStream == variables.perStream, "a refused assignment changed the variables")
            invariant(!error.description.isEmpty, "an error with no description")
            continue
        }
        guard let equals = assignment.firstIndex(of: "=") else {
            invariant(false, "accepted an assignment without `=`: \(assignment.debugDescription)")
            return 0
        }
        let key = assignment[..<equals]
        let value = String(assignment[assignment.index(after: equals)...])
        let stream: String?
        let name: String
        if let dot = key.firstIndex(of: ".") {
            stream = String(key[..<dot])
            name = String(key[key.index(after: dot)...])
        } else {
            stream = nil
            name = String(key)
        }
        invariant(isPlainVariableName(name), "accepted the variable name \(name.debugDescription)")
        if let stream {
            invariant(isPlainStreamName(stream), "accepted the stream name \(stream.debugDescription)")
            invariant(variables.perStream[stream]?[name] == value, "\(assignment.debugDescription) did not store \(value.debugDescription) for \(stream)")
            invariant(variables.value(of: name, stream: stream) == value, "a stream's own value does not come first")
            invariant(variables.global == before.global, "a stream assignment changed a global value")
        } else {
            invariant(variables.global[name] == value, "\(assignment.debugDescription) did not store \(value.debugDescription)")
            invariant(variables.perStream == before.perStream, "a global assignment changed a stream's values")
        }
    }
    return 0
}

/// The rule, written out independently of the code under test: `[A-Za-z_][A-Za-z0-9_]*`.
private func isPlainVariableName(_ text: String) -> Bool {
    let bytes = Array(text.utf8)
    guard let first = bytes.first, !(UInt8(ascii: "0")...UInt8(ascii: "9")).contains(first) else { return false }
    return bytes.allSatisfy { byte in
        (UInt8(ascii: "a")...UInt8(ascii: "z")).contains(byte) || (UInt8(ascii: "A")...UInt8(ascii: "Z")).contains(byte)
            || (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(byte) || byte == UInt8(ascii: "_")
    }
}

/// `[a-z0-9][a-z0-9_-]*`.
private func isPlainStreamName(_ text: String) -> Bool {
    let bytes = Array(text.utf8)
    func alphanumeric(_ byte: UInt8) -> Bool {
        (UInt8(ascii: "a")...UInt8(ascii: "z")).contains(byte) || (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(byte)
    }
    guard let first = bytes.first, alphanumeric(first) else { return false }
    return bytes.allSatisfy { alphanumeric($0) || $0 == UInt8(ascii: "_") || $0 == UInt8(ascii: "-") }
}
