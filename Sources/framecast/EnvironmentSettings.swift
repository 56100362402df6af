import ArgumentParser
import Foundation
import FramecastServer

/// `FRAMECAST_PORT=8081`, `FRAMECAST_IDLE_TIMEOUT=5`, `FRAMECAST_ALWAYS_ON=true`: a flag set from
/// the environment (a container's, a unit's `Environment=`), between the configuration file and
/// the command line. Each variable is checked like the file's keys, with `Serve`'s definitions.
/// Repeatable flags and streams have no variable: their values would need a separator that
/// pipelines and rendition specs already use.
struct EnvironmentSettings {
    static let prefix = "FRAMECAST_"

    /// In the table's order: `--port 8081`, ...
    private(set) var arguments: [ConfigurationFile.Argument] = []

    struct Failure: Error, CustomStringConvertible {
        let description: String
    }

    /// The variable that sets `key`: `idle-timeout` → `FRAMECAST_IDLE_TIMEOUT`.
    static func variable(for key: String) -> String {
        prefix + key.uppercased().replacingOccurrences(of: "-", with: "_")
    }

    init(_ environment: [String: String], table: FlagTable = .serve) throws(Failure) {
        for entry in table.entries {
            guard let key = entry.key, let text = environment[Self.variable(for: key)] else { continue }
            let variable = Self.variable(for: key)
            let words: [String]
            if entry.isFlag {
                switch text.lowercased() {
                case "1", "true", "yes", "on": words = ["--\(key)"]
                case "0", "false", "no", "off", "": words = []
                default: throw Failure(description: "environment variable \(variable) is true or false, not '\(BoundedNumber.quotable(text))'")
                }
            } else if entry.isRepeating {
                throw Failure(description: "environment variable \(variable): --\(key) repeats; give it in the configuration file or on the command line")
            } else {
                words = ["--\(key)", text]
            }
            do {
                _ = try StartupFailure.quietly { () throws -> Serve in try Serve.parse(words.isEmpty ? ["--\(key)"] : words) }
            } catch let refused as StartupFailure {
                throw Failure(description: "environment variable \(variable): \(refused.message)")
            } catch {
                throw Failure(description: "environment variable \(variable): \(Serve.message(for: error))")
            }
            arguments.append(ConfigurationFile.Argument(key: key, words: words))
        }
    }
}
