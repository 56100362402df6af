/// `HtpasswdFile.parse`: the `--htpasswd` file, `user:hash` lines of bcrypt entries.
///
/// Input: the file's text.
///
/// Invariants: a success holds at least one entry; each user is non-empty, unique, holds no `:`,
/// no line break and does not start with a blank or `#`; each hash is 60 bytes of `$2a$` or `$2b$`
/// (Apache's `$2y$` rewritten), a two-digit cost equal to `cost` and within `costs`, then bcrypt's
/// base64; there are no more entries than lines. A refusal names a line of the file.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafeRawPointer, _ size: Int) -> CInt {
    let text = FuzzInput(data, size).text
    let lineCount = text.utf8.split(separator: UInt8(ascii: "\n"), omittingEmptySubsequences: false).count

    let entries: [HtpasswdFile.Entry]
    do {
        entries = try HtpasswdFile.parse(text: text, path: "fuzz.htpasswd")
    } catch {
        invariant(!error.description.isEmpty, "an error with no description")
        if case .badLine(let path, let line, _) = error {
            invariant(path == "fuzz.htpasswd", "the error names \(path.debugDescription)")
            invariant((1...lineCount).contains(line), "error on line \(line) of a \(lineCount)-line file")
        }
        return 0
    }

    invariant(!entries.isEmpty, "no entry and no error")
    invariant(entries.count <= lineCount, "\(entries.count) entries from \(lineCount) lines")
    invariant(Set(entries.map(\.user)).count == entries.count, "a user is listed twice: \(entries.map(\.user))")
    let blanks: Set<UInt8> = [0x20, 0x09, 0x0B, 0x0C, 0x0D]
    for entry in entries {
        let user = Array(entry.user.utf8)
        invariant(!user.isEmpty, "an empty user name")
        invariant(!user.contains(UInt8(ascii: ":")) && !user.contains(UInt8(ascii: "\n")), "the user \(entry.user.debugDescription)")
        invariant(!blanks.contains(user[0]) && user[0] != UInt8(ascii: "#"), "the user \(entry.user.debugDescription) starts with a blank or #")
        checkHash(entry)
    }
    return 0
}

private func checkHash(_ entry: HtpasswdFile.Entry) {
    let hash = Array(entry.hash.utf8)
    let shown = entry.hash.debugDescription
    invariant(hash.count == 60, "a hash of \(hash.count) bytes: \(shown)")
    invariant(hash.starts(with: Array("$2a$".utf8)) || hash.starts(with: Array("$2b$".utf8)), "the hash \(shown) is not $2a$ or $2b$")
    let digits = UInt8(ascii: "0")...UInt8(ascii: "9")
    invariant(digits.contains(hash[4]) && digits.contains(hash[5]) && hash[6] == UInt8(ascii: "$"), "the hash \(shown) has no two-digit cost")
    let cost = Int(hash[4] - UInt8(ascii: "0")) * 10 + Int(hash[5] - UInt8(ascii: "0"))
    invariant(cost == entry.cost, "the hash \(shown) has cost \(cost), the entry says \(entry.cost)")
    invariant(HtpasswdFile.costs.contains(entry.cost), "cost \(entry.cost) is outside \(HtpasswdFile.costs)")
    let base64 = hash[7...].allSatisfy { byte in
        byte == UInt8(ascii: ".") || byte == UInt8(ascii: "/") || digits.contains(byte)
            || (UInt8(ascii: "A")...UInt8(ascii: "Z")).contains(byte) || (UInt8(ascii: "a")...UInt8(ascii: "z")).contains(byte)
    }
    invariant(base64, "the hash \(shown) holds a byte outside bcrypt's base64")
}
