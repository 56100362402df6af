/// Text a client sent, as it may be quoted back to it and into logs: printable ASCII only (any
/// other character, and `'`, shown as `?`), at most `limit` characters. ASCII throughout: a
/// refusal's reason also travels in a header. Imports nothing: it is compiled into the fuzz
/// targets that quote their input.
enum EchoedText {
    static func printable(_ text: String, limit: Int) -> String {
        String(text.unicodeScalars.prefix(limit).map { scalar -> Character in
            scalar.value >= 0x20 && scalar.value < 0x7F && scalar != "'" ? Character(scalar) : "?"
        })
    }
}
