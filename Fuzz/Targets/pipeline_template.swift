/// `PipelineTemplate.expand`: a pipeline file's text with `${NAME}` / `${NAME:-default}`, expanded
/// with `--set` values and the environment.
///
/// Input: fields split on NUL. The first is the pipeline text; every other one is a `--set`
/// assignment (refused ones are skipped). The stream is `cam`, so `cam.NAME=VALUE` applies.
///
/// Invariants: a value is one pipeline token, so expanding adds no `!` (a link), quote, backslash,
/// whitespace, `,` (a caps field) or `;` (a caps structure) that the text did not hold, counted in
/// Unicode scalars (the bytes GStreamer's parser reads); a description is non-empty and one line;
/// an error names a line of the text.

private let environment = ["HOME": "/root", "WIDTH": "640", "DEVICE": "/dev/video0"]

/// What a value must not bring into a description: each is counted on its own.
private let guarded: [(name: String, matches: @Sendable (Unicode.Scalar) -> Bool)] = [
    ("`!`", { $0 == "!" }),
    ("a double quote", { $0 == "\"" }),
    ("a single quote", { $0 == "'" }),
    ("a backslash", { $0 == "\\" }),
    ("a comma (a caps field)", { $0 == "," }),
    ("a semicolon (a caps structure)", { $0 == ";" }),
    ("whitespace", { $0.properties.isWhitespace }),
]

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafeRawPointer, _ size: Int) -> CInt {
    let fields = FuzzInput(data, size).fields
    let text = fields[0]
    var variables = PipelineVariables(environment: environment)
    for assignment in fields.dropFirst() {
        try? variables.assign(assignment)
    }

    let description: String
    do {
        description = try PipelineTemplate.expand(text, source: "fuzz.pipeline", stream: "cam", variables: variables)
    } catch {
        invariant(!error.description.isEmpty, "an error with no description")
        if case .variable(_, let line, _, _) = error {
            let lineCount = text.split(omittingEmptySubsequences: false, whereSeparator: \.isNewline).count
            invariant((1...lineCount).contains(line), "error on line \(line) of a \(lineCount)-line text")
        }
        return 0
    }

    invariant(!description.isEmpty, "an empty description was returned instead of .empty")
    invariant(!description.contains(where: \.isNewline), "the description holds a line break: \(description.debugDescription)")
    for (name, matches) in guarded {
        let before = text.scalarCount(where: matches)
        let after = description.scalarCount(where: matches)
        invariant(
            after <= before,
            "expansion added \(name) (\(before) in the text, \(after) after): \(description.debugDescription)")
    }
    return 0
}
