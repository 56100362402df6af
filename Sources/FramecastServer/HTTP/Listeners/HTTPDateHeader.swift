import Glibc
import Synchronization

/// The `Date` header's value (RFC 9110, 5.6.7), formatted at most once a second whatever the
/// number of responses.
final class HTTPDateHeader: Sendable {
    private let cached = Mutex<(second: Int, text: String)>((-1, ""))

    var value: String {
        let second = time(nil)
        return cached.withLock { cached in
            if cached.second != second {
                cached = (second, Self.format(secondsSinceEpoch: second))
            }
            return cached.text
        }
    }

    /// `Sun, 06 Nov 1994 08:49:37 GMT`. strftime in the C locale (a process's default until
    /// setlocale is called, which Framecast never does) names days and months in English.
    static func format(secondsSinceEpoch: Int) -> String {
        var seconds = time_t(secondsSinceEpoch)
        var parts = tm()
        gmtime_r(&seconds, &parts)
        var buffer = [CChar](repeating: 0, count: 64)
        let length = strftime(&buffer, buffer.count, "%a, %d %b %Y %H:%M:%S GMT", &parts)
        return String(decoding: buffer.prefix(length).map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }
}
