/// Values for `${NAME}` and `${NAME:-default}` in pipeline descriptions.
///
/// Precedence: `--set STREAM.NAME=VALUE` (one stream), then `--set NAME=VALUE` (every stream), then
/// the environment, then the default written in the file.
public struct PipelineVariables: Sendable {
    public var global: [String: String] = [:]
    public var perStream: [String: [String: String]] = [:]
    public var environment: [String: String] = [:]

    public init(global: [String: String] = [:], perStream: [String: [String: String]] = [:], environment: [String: String] = [:]) {
        self.global = global
        self.perStream = perStream
        self.environment = environment
    }

    /// Reads `NAME=VALUE` and `STREAM.NAME=VALUE` assignments (from `--set`).
    public mutating func assign(_ assignment: String) throws(PipelineError) {
        guard let equals = assignment.firstIndex(of: "=") else {
            throw .badAssignment(assignment, "expected NAME=VALUE or STREAM.NAME=VALUE")
        }
        let key = String(assignment[..<equals])
        let value = String(assignment[assignment.index(after: equals)...])
        let parts = key.split(separator: ".", omittingEmptySubsequences: false).map(String.init)
        switch parts.count {
        case 1 where Self.isVariableName(parts[0]):
            global[parts[0]] = value
        case 2 where StreamName.isValid(parts[0]) && Self.isVariableName(parts[1]):
            perStream[parts[0], default: [:]][parts[1]] = value
        default:
            throw .badAssignment(assignment, "a variable name is letters, digits and _ (not starting with a digit), optionally after a stream name and a dot")
        }
    }

    func value(of name: String, stream: String) -> String? {
        perStream[stream]?[name] ?? global[name] ?? environment[name]
    }

    static func isVariableName(_ text: String) -> Bool {
        guard let first = text.unicodeScalars.first, first == "_" || (first.isASCII && first.properties.isAlphabetic) else { return false }
        return text.unicodeScalars.allSatisfy { $0 == "_" || ($0.isASCII && ($0.properties.isAlphabetic || ("0"..."9").contains($0))) }
    }
}

/// Stream names as they appear in URLs: `[a-z0-9][a-z0-9_-]*`.
public enum StreamName {
    public static func isValid(_ name: String) -> Bool {
        guard let first = name.unicodeScalars.first, isLowerAlphanumeric(first) else { return false }
        return name.unicodeScalars.allSatisfy { isLowerAlphanumeric($0) || $0 == "_" || $0 == "-" }
    }

    private static func isLowerAlphanumeric(_ scalar: Unicode.Scalar) -> Bool {
        ("a"..."z").contains(scalar) || ("0"..."9").contains(scalar)
    }
}
