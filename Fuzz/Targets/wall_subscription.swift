/// `WallSubscription.parse`: the JSON a `/ws` client sends to choose its streams,
/// `{"streams": ["a", {"name": "b", "width": 480}]}`.
///
/// Input: the message text.
///
/// Invariants: a success holds at most 64 names of at most 64 bytes each, rendition keys only
/// among width, height, quality and crop (a crop of at most 64 bytes), and came from at most
/// 64 KiB of text.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafeRawPointer, _ size: Int) -> CInt {
    let text = FuzzInput(data, size).text
    guard let subscription = WallSubscription.parse(text) else { return 0 }
    invariant(text.utf8.count <= 64 * 1024, "accepted \(text.utf8.count) bytes")
    invariant(subscription.streams.count <= WallSubscription.maximumStreams, "accepted \(subscription.streams.count) names")
    invariant(WallSubscription.maximumStreams == 64 && WallSubscription.maximumNameLength == 64, "the limits changed: update this harness")
    for entry in subscription.streams {
        invariant(entry.name.utf8.count <= 64, "accepted a name of \(entry.name.utf8.count) bytes")
        invariant(Set(entry.parameters.keys).isSubset(of: ["width", "height", "quality", "crop"]), "accepted keys \(entry.parameters.keys)")
        invariant((entry.parameters["crop"]?.utf8.count ?? 0) <= 64 * 4, "accepted a long crop")
    }
    return 0
}
