import Foundation

/// A minimal WebSocket client over `withHTTPRequest`'s socket: the upgrade handshake, masked text
/// frames out, and unmasked frames in, read byte by byte as the server wrote them.
struct WebSocketTestClient {
    enum Message {
        case text(String)
        case binary([UInt8])
        case close
    }

    static let upgradeHeaders = [
        "Upgrade": "websocket", "Connection": "Upgrade",
        "Sec-WebSocket-Key": "dGhlIHNhbXBsZSBub25jZQ==", "Sec-WebSocket-Version": "13",
        "User-Agent": "framecast-tests",
    ]

    static func sendText(_ text: String, on reader: ResponseReader) async throws {
        try await reader.send(textFrame(text))
    }

    /// A masked text frame, as a client must send it.
    static func textFrame(_ text: String) -> [UInt8] {
        let payload = Array(text.utf8)
        var frame: [UInt8] = [0x81]
        if payload.count < 126 {
            frame.append(0x80 | UInt8(payload.count))
        } else {
            frame.append(0x80 | 126)
            frame += [UInt8(payload.count >> 8), UInt8(payload.count & 0xFF)]
        }
        let mask: [UInt8] = [0x12, 0x34, 0x56, 0x78]
        frame += mask
        frame += payload.enumerated().map { $0.element ^ mask[$0.offset % 4] }
        return frame
    }

    /// The upgrade request as raw bytes (for a client that writes and then never reads).
    static func upgradeRequest(path: String = "/ws") -> [UInt8] {
        var text = "GET \(path) HTTP/1.1\r\nHost: 127.0.0.1\r\n"
        for (name, value) in upgradeHeaders { text += "\(name): \(value)\r\n" }
        return Array((text + "\r\n").utf8)
    }

    /// Reads the next whole message (continuation frames joined; pings skipped).
    static func next(_ reader: inout ResponseReader) async throws -> Message {
        var collected: [UInt8] = []
        var opcode: UInt8 = 0
        while true {
            let head = try await reader.read(exactly: 2)
            let fin = head[0] & 0x80 != 0
            let frameOpcode = head[0] & 0x0F
            var length = Int(head[1] & 0x7F)
            if length == 126 {
                let extended = try await reader.read(exactly: 2)
                length = Int(extended[0]) << 8 | Int(extended[1])
            } else if length == 127 {
                let extended = try await reader.read(exactly: 8)
                length = extended.reduce(0) { $0 << 8 | Int($1) }
            }
            let payload = length > 0 ? try await reader.read(exactly: length) : []
            switch frameOpcode {
            case 0x8: return .close
            case 0x9, 0xA: continue  // ping, pong
            case 0x0: collected += payload
            default:
                opcode = frameOpcode
                collected = payload
            }
            if fin {
                return opcode == 0x1 ? .text(String(decoding: collected, as: UTF8.self)) : .binary(collected)
            }
        }
    }

    /// A wall frame's parts, read from the end of the message.
    static func parse(_ message: [UInt8]) -> (name: String, capturedAt: Double, jpeg: [UInt8])? {
        let n = message.count
        guard n >= 13 else { return nil }
        let length = message[(n - 4)...].reduce(0) { $0 << 8 | Int($1) }
        let bits = message[(n - 12)..<(n - 4)].reduce(UInt64(0)) { $0 << 8 | UInt64($1) }
        let nameLength = Int(message[n - 13])
        guard n >= 13 + nameLength, length <= n - 13 - nameLength else { return nil }
        let name = String(decoding: message[(n - 13 - nameLength)..<(n - 13)], as: UTF8.self)
        return (name, Double(bitPattern: bits), Array(message[0..<length]))
    }
}
