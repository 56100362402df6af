import Foundation

/// Expands `${NAME}` and `${NAME:-default}` in a pipeline description, line by line so an error
/// can name the line.
///
/// A value is inserted as one pipeline token in every context: an element's property
/// (`device=${DEVICE}`), a caps field (`width=${WIDTH}`) or a URL (`location=${URL}`). So only
/// letters, digits and `_ - . : / ? & = @ % + ~` may appear in it: a `,` would add a caps field, a
/// `;` a caps structure, a `!` an element, a space or a quote another property.
public enum PipelineTemplate {
    /// - Parameters:
    ///   - text: the description (a file's text, comments included, or a command-line string).
    ///   - source: what to call it in errors (a file path, or `--stream NAME`).
    ///   - stream: the stream's name, for `--set STREAM.NAME=VALUE`.
    /// - Returns: the description with comment lines removed, lines joined, variables replaced.
    public static func expand(_ text: String, source: String, stream: String, variables: PipelineVariables) throws(PipelineError) -> String {
        var lines: [String] = []
        for (number, line) in significantLines(text) {
            lines.append(try expandLine(line, source: source, line: number, stream: stream, variables: variables))
        }
        let description = lines.joined(separator: " ")
        guard !description.isEmpty else { throw .empty }
        return description
    }

    /// The lines that are not blank or `#` comments, trimmed, with their 1-based numbers.
    static func significantLines(_ text: String) -> [(number: Int, line: String)] {
        text.split(omittingEmptySubsequences: false, whereSeparator: \.isNewline).enumerated().compactMap { index, rawLine in
            let line = rawLine.trimmingWhitespace()
            return line.isEmpty || line.hasPrefix("#") ? nil : (index + 1, line)
        }
    }

    private static func expandLine(_ line: String, source: String, line number: Int, stream: String, variables: PipelineVariables) throws(PipelineError) -> String {
        var output = ""
        var rest = Substring(line)
        while let start = rest.range(of: "${") {
            output += rest[..<start.lowerBound]
            guard let end = rest[start.upperBound...].firstIndex(of: "}") else {
                throw .variable(source: source, line: number, name: "", problem: "`${` without a closing `}`")
            }
            let body = rest[start.upperBound..<end]
            let name: String
            let fallback: String?
            if let separator = body.range(of: ":-") {
                name = String(body[..<separator.lowerBound])
                fallback = String(body[separator.upperBound...])
            } else {
                name = String(body)
                fallback = nil
            }
            guard PipelineVariables.isVariableName(name) else {
                throw .variable(source: source, line: number, name: name, problem: "is not a variable name (letters, digits and _)")
            }
            if let value = variables.value(of: name, stream: stream) {
                if let problem = Self.tokenProblem(value) {
                    throw .variable(source: source, line: number, name: name, problem: problem)
                }
                output += value
            } else if let fallback {
                output += fallback
            } else {
                throw .variable(
                    source: source, line: number, name: name,
                    problem: "has no value: give it with --set \(name)=VALUE (or --set \(stream).\(name)=VALUE, or the environment), or write a default as ${\(name):-VALUE}")
            }
            rest = rest[rest.index(after: end)...]
        }
        output += rest
        return output
    }
}

extension PipelineTemplate {
    /// What a value may hold: enough for numbers, names, device paths and URLs with credentials
    /// and queries (`rtsp://user:pass@host:554/path?x=1&y=2`).
    static let tokenCharacters = "letters, digits and _ - . : / ? & = @ % + ~"

    /// Why `value` is not a single token, or nil.
    static func tokenProblem(_ value: String) -> String? {
        guard let bad = value.unicodeScalars.first(where: { !isTokenScalar($0) }) else { return nil }
        let shown = bad.value < 0x20 || bad.value == 0x7F ? "a control character" : "`\(bad)`"
        return "has a value holding \(shown), which would change the pipeline's structure: a value may hold only \(tokenCharacters)"
    }

    private static func isTokenScalar(_ scalar: Unicode.Scalar) -> Bool {
        switch scalar {
        case "a"..."z", "A"..."Z", "0"..."9": true
        case "_", "-", ".", ":", "/", "?", "&", "=", "@", "%", "+", "~": true
        default: false
        }
    }
}

extension Substring {
    func trimmingWhitespace() -> String {
        String(drop(while: \.isWhitespace).reversed().drop(while: \.isWhitespace).reversed())
    }
}
