import Foundation

/// One part of a multipart/x-mixed-replace stream as a client received it.
struct ReceivedPart {
    var headers: [String: String]  // lower-cased names
    var body: [UInt8]
    /// When its last byte arrived here (wall clock, seconds since the epoch).
    var receivedAt: Double

    var timestamp: Double? { headers["x-timestamp"].flatMap(Double.init) }
    var contentLength: Int? { headers["content-length"].flatMap(Int.init) }
    /// A "NO SIGNAL"/"STARTING" picture standing in for the camera (length framing says so).
    var isPlaceholder: Bool { headers["x-placeholder"] != nil }
}

/// Reads parts of a multipart stream, in either framing, checking the delimiters as it goes.
struct MultipartStreamReader {
    let boundary: [UInt8]
    private(set) var closed = false

    init(boundary: String) {
        self.boundary = Array("--\(boundary)".utf8)
    }

    /// Reads the opening boundary line.
    mutating func readOpening(_ reader: inout ResponseReader) async throws {
        let line = try await reader.readLine()
        guard Array(line.utf8) == boundary else { throw HTTPTestError.malformed("opening line \(line.debugDescription)") }
    }

    /// The next real frame, skipping placeholders.
    mutating func nextFrame(_ reader: inout ResponseReader) async throws -> ReceivedPart? {
        while let part = try await next(&reader) {
            if !part.isPlaceholder { return part }
        }
        return nil
    }

    /// The next part, or nil after the close delimiter.
    mutating func next(_ reader: inout ResponseReader) async throws -> ReceivedPart? {
        guard !closed else { return nil }
        var headers: [String: String] = [:]
        while true {
            let line = try await reader.readLine()
            if line.isEmpty { break }
            guard let colon = line.firstIndex(of: ":") else { throw HTTPTestError.malformed("header line \(line.debugDescription)") }
            headers[line[..<colon].lowercased()] = line[line.index(after: colon)...].trimmingCharacters(in: .whitespaces)
        }
        let delimiter: [UInt8] = [13, 10] + boundary
        let body: [UInt8]
        if let length = headers["content-length"].flatMap(Int.init) {
            body = try await reader.read(exactly: length)
            let following = try await reader.read(exactly: delimiter.count)
            guard following == delimiter else {
                throw HTTPTestError.malformed("the boundary does not follow the \(length)-byte body at once")
            }
        } else {
            body = try await reader.read(until: delimiter)
            _ = try await reader.read(exactly: delimiter.count)
        }
        let receivedAt = Date().timeIntervalSince1970
        let ending = try await reader.read(exactly: 2)
        if ending == Array("--".utf8) {
            closed = true
            _ = try? await reader.read(exactly: 2)
            if body.isEmpty { return nil }
        } else if ending != [13, 10] {
            throw HTTPTestError.malformed("boundary line ends with \(ending)")
        }
        return ReceivedPart(headers: headers, body: body, receivedAt: receivedAt)
    }
}

/// The picture size a JPEG declares in its start-of-frame segment, or nil when the bytes are not
/// a whole JPEG (SOI first, EOI last, a SOF segment in between).
func jpegDimensions(_ bytes: [UInt8]) -> (width: Int, height: Int)? {
    guard bytes.count > 4, bytes[0] == 0xFF, bytes[1] == 0xD8,
        bytes[bytes.count - 2] == 0xFF, bytes[bytes.count - 1] == 0xD9
    else { return nil }
    var index = 2
    while index + 4 <= bytes.count {
        guard bytes[index] == 0xFF else { return nil }
        let marker = bytes[index + 1]
        if marker == 0xFF { index += 1; continue }
        let length = Int(bytes[index + 2]) << 8 | Int(bytes[index + 3])
        // SOF0..SOF15 except DHT (C4), JPG (C8) and DAC (CC).
        if (0xC0...0xCF).contains(marker), ![0xC4, 0xC8, 0xCC].contains(marker) {
            guard index + 9 <= bytes.count else { return nil }
            let height = Int(bytes[index + 5]) << 8 | Int(bytes[index + 6])
            let width = Int(bytes[index + 7]) << 8 | Int(bytes[index + 8])
            return (width, height)
        }
        if marker == 0xDA { return nil }  // scan data before any SOF
        index += 2 + length
    }
    return nil
}
