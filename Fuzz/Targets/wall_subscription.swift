/// `WallSubscription.parse`: the JSON a `/ws` client sends to choose its streams,
/// `{"streams": ["a", "b"]}`.
///
/// Input: the message text.
///
/// Invariants: a success holds at most 64 names of at most 64 bytes each, and came from at most
/// 64 KiB of text.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafeRawPointer, _ size: Int) -> CInt {
    let text = FuzzInput(data, size).text
    guard let subscription = WallSubscription.parse(text) else { return 0 }
    invariant(text.utf8.count <= 64 * 1024, "accepted \(text.utf8.count) bytes")
    invariant(subscription.streams.count <= WallSubscription.maximumStreams, "accepted \(subscription.streams.count) names")
    invariant(WallSubscription.maximumStreams == 64 && WallSubscription.maximumNameLength == 64, "the limits changed: update this harness")
    for name in subscription.streams {
        invariant(name.utf8.count <= 64, "accepted a name of \(name.utf8.count) bytes")
    }
    return 0
}
