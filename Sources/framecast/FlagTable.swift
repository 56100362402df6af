import ArgumentParser
import Foundation

/// `serve`'s flags as ArgumentParser describes them for `--help` (its JSON help dump): what a
/// configuration file may say, whether a key is an on/off flag or takes a value, and whether it
/// repeats. The file, `--help` and README's configuration reference all come from this one
/// description, so they cannot disagree.
struct FlagTable {
    struct Entry: Decodable, Equatable {
        let kind: String
        let isRepeating: Bool
        let abstract: String?
        let defaultValue: String?
        let valueName: String?
        let preferredName: Name?

        struct Name: Decodable, Equatable {
            let kind: String
            let name: String
        }

        var key: String? { preferredName?.kind == "long" ? preferredName?.name : nil }
        var isFlag: Bool { kind == "flag" }
    }

    private struct Dump: Decodable {
        struct Command: Decodable { let arguments: [Entry] }
        let command: Command
    }

    /// Keys that a file may not set: they are about this run of the command, not the service.
    static let commandOnly: Set<String> = ["config", "help", "version", "check"]

    let entries: [Entry]

    static let serve = FlagTable(json: Serve._dumpHelp())

    init(json: String) {
        let dump = try? JSONDecoder().decode(Dump.self, from: Data(json.utf8))
        entries = (dump?.command.arguments ?? []).filter { entry in
            entry.key.map { !Self.commandOnly.contains($0) } ?? false
        }
    }

    func entry(_ key: String) -> Entry? { entries.first { $0.key == key } }

    /// README's configuration reference: one row per key.
    var markdown: String {
        var lines = ["| key | value | default | what it does |", "| --- | --- | --- | --- |"]
        for entry in entries {
            guard let key = entry.key else { continue }
            let value: String
            if entry.isFlag {
                value = "true / false"
            } else {
                let name = (entry.valueName.map { $0 == key ? "VALUE" : $0 } ?? "VALUE")
                value = entry.isRepeating ? "a list of \(name)" : name
            }
            let help = (entry.abstract ?? "").replacingOccurrences(of: "|", with: "\\|")
            lines.append("| `\(key)` | \(value) | \(entry.defaultValue.map { "`\($0)`" } ?? "") | \(help) |")
        }
        return lines.joined(separator: "\n")
    }
}
