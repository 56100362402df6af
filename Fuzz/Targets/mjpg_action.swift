/// `MjpgStreamerAction.parse`: mjpg-streamer's `?action=stream_N` / `snapshot_N`.
///
/// Input: the first byte is the number of served streams (0 to 255), the rest is the action.
///
/// Invariants: a success names a stream that is served (0 <= index < streamCount) and its action
/// is exactly `stream` / `snapshot`, alone or followed by `_` and up to 9 ASCII digits.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafeRawPointer, _ size: Int) -> CInt {
    let input = FuzzInput(data, size)
    guard let count = input.bytes.first else { return 0 }
    let streamCount = Int(count)
    let action = String(decoding: input.bytes.dropFirst(), as: UTF8.self)

    guard case .success(let parsed) = MjpgStreamerAction.parse(action, streamCount: streamCount) else { return 0 }
    invariant(parsed.index >= 0 && parsed.index < streamCount, "\(action.debugDescription) gave stream \(parsed.index) of \(streamCount)")
    let verb = parsed.verb.rawValue
    if action != verb {
        let prefix = verb + "_"
        invariant(action.hasPrefix(prefix), "\(action.debugDescription) was read as \(verb)")
        let digits = action.utf8.dropFirst(prefix.utf8.count)
        invariant(
            (1...9).contains(digits.count) && digits.allSatisfy { (UInt8(ascii: "0")...UInt8(ascii: "9")).contains($0) },
            "\(action.debugDescription) was read as \(verb) number \(parsed.index)")
        invariant(Int(String(decoding: digits, as: UTF8.self)) == parsed.index, "\(action.debugDescription) was read as number \(parsed.index)")
    } else {
        invariant(parsed.index == 0, "\(action.debugDescription) was read as number \(parsed.index)")
    }
    return 0
}
