import Foundation
import NIOCore

/// Reads a `multipart/x-mixed-replace` body as it arrives: each part's headers and body. Parts
/// with `Content-Length` (Framecast's length framing, mjpg-streamer, µStreamer) are cut by it;
/// parts without are cut at the next boundary line. Bounded: a part larger than `maximumPart`, or
/// headers larger than 16 KB, is an error, not a growing buffer.
struct MultipartParser {
    struct Part: Equatable {
        /// Header names in lower case.
        var headers: [String: String]
        var body: ByteBuffer
    }

    enum Failure: Error, Equatable, CustomStringConvertible {
        case partTooLarge(Int)
        case headersTooLarge
        case malformedHeaders

        var description: String {
            switch self {
            case .partTooLarge(let limit): "a part larger than \(limit) bytes"
            case .headersTooLarge: "a part's headers are larger than 16 KB"
            case .malformedHeaders: "a part's headers are malformed"
            }
        }
    }

    private let delimiter: [UInt8]
    private let maximumPart: Int
    private var buffer = ByteBuffer()
    private var headers: [String: String]?

    /// `boundary`: the `boundary=` parameter of the response's `Content-Type`.
    init(boundary: String, maximumPart: Int = 16 << 20) {
        delimiter = Array("--\(boundary)".utf8)
        self.maximumPart = maximumPart
    }

    /// The `boundary` parameter of a `multipart/…` content type, or nil.
    static func boundary(ofContentType value: String) -> String? {
        guard value.lowercased().hasPrefix("multipart/") else { return nil }
        for parameter in value.split(separator: ";").dropFirst() {
            let pair = parameter.split(separator: "=", maxSplits: 1).map { $0.trimmingCharacters(in: .whitespaces) }
            guard pair.count == 2, pair[0].lowercased() == "boundary" else { continue }
            var boundary = pair[1]
            if boundary.hasPrefix("\""), boundary.hasSuffix("\""), boundary.count >= 2 { boundary = String(boundary.dropFirst().dropLast()) }
            // Some servers put the dashes in the parameter too.
            if boundary.hasPrefix("--") { boundary = String(boundary.dropFirst(2)) }
            return boundary.isEmpty || boundary.utf8.count > 200 ? nil : boundary
        }
        return nil
    }

    /// Adds bytes and returns the parts they complete.
    mutating func append(_ bytes: ByteBuffer) throws(Failure) -> [Part] {
        var incoming = bytes
        buffer.writeBuffer(&incoming)
        var parts: [Part] = []
        while let part = try next() { parts.append(part) }
        // Keep the buffer from creeping: consumed bytes go.
        if buffer.readerIndex > 1 << 16 { buffer.discardReadBytes() }
        return parts
    }

    private mutating func next() throws(Failure) -> Part? {
        if headers == nil {
            // Find the delimiter line, then the headers up to a blank line.
            let view = buffer.readableBytesView
            guard let start = view.firstRange(of: delimiter)?.lowerBound else {
                guard view.count < 16 << 10 + maximumPart else { throw .partTooLarge(maximumPart) }
                return nil
            }
            guard let end = view[start...].firstRange(of: [13, 10, 13, 10])?.upperBound else {
                guard view.endIndex - start < 16 << 10 else { throw .headersTooLarge }
                return nil
            }
            let block = String(decoding: view[start..<end], as: UTF8.self)
            var parsed: [String: String] = [:]
            for line in block.split(separator: "\r\n").dropFirst() {
                guard let colon = line.firstIndex(of: ":") else { throw .malformedHeaders }
                parsed[line[..<colon].trimmingCharacters(in: .whitespaces).lowercased()] = line[line.index(after: colon)...].trimmingCharacters(in: .whitespaces)
            }
            headers = parsed
            buffer.moveReaderIndex(forwardBy: end - view.startIndex)
        }
        guard let headers else { return nil }
        if let lengthText = headers["content-length"] {
            guard let length = Int(lengthText), length >= 0 else { throw .malformedHeaders }
            guard length <= maximumPart else { throw .partTooLarge(maximumPart) }
            guard let body = buffer.readSlice(length: length) else { return nil }
            self.headers = nil
            return Part(headers: headers, body: body)
        }
        // No length: the body ends at the CRLF before the next delimiter.
        let view = buffer.readableBytesView
        guard let next = view.firstRange(of: [13, 10] + delimiter)?.lowerBound else {
            guard view.count <= maximumPart else { throw .partTooLarge(maximumPart) }
            return nil
        }
        let body = buffer.readSlice(length: next - view.startIndex)!
        self.headers = nil
        return Part(headers: headers, body: body)
    }
}

