public import NIOCore

/// How a client's multipart stream is laid out. Both carry the same frames.
public enum StreamFraming: String, Sendable, CaseIterable {
    /// Each part has Content-Type, Content-Length and X-Timestamp; the boundary line follows the
    /// JPEG at once. What ffmpeg, GStreamer, VLC, OpenCV and scripts read best.
    case length
    /// After each JPEG: the boundary line and the next part's whole header block. Chromium paints
    /// a part only once the next part's body begins, so this is the only layout it shows without a
    /// frame of lag. Parts cannot carry Content-Length or X-Timestamp.
    case early
}

/// The fixed bytes of a `multipart/x-mixed-replace` stream: its opening, the line between parts
/// and its closing. Each frame's own part is laid out by `MultipartEncoding`.
public enum MultipartFraming {
    public static let boundary = "framecast"
    public static var contentType: String { "multipart/x-mixed-replace; boundary=\(boundary)" }
    /// "\r\n--B\r\n": ends a part.
    static let boundaryLine = Array("\r\n--\(boundary)\r\n".utf8)
    /// What an early-framing part starts with, sent ahead with the previous part.
    static let partHeaderBlock = Array("Content-Type: image/jpeg\r\n\r\n".utf8)

    /// Sent as soon as a client's stream opens: the first boundary line (and, for early framing,
    /// the first part's header block, so the first JPEG can follow directly).
    public static func opening(_ framing: StreamFraming) -> ByteBuffer {
        switch framing {
        case .length: ByteBuffer(string: "--\(boundary)\r\n")
        case .early: ByteBuffer(string: "--\(boundary)\r\nContent-Type: image/jpeg\r\n\r\n")
        }
    }

    /// Ends a stream cleanly with the close delimiter. A length-framing stream stands just after a
    /// boundary line (an empty part closes it); an early-framing stream stands inside a part's body.
    public static func closing(_ framing: StreamFraming) -> ByteBuffer {
        switch framing {
        case .length: ByteBuffer(string: "\r\n\r\n--\(boundary)--\r\n")
        case .early: ByteBuffer(string: "\r\n--\(boundary)--\r\n")
        }
    }
}
