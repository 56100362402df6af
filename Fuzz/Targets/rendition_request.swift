/// `RenditionRequest.parse` (a query's `width`, `height`, `quality` and `crop`), its `spec:` form
/// and `NamedRendition.parse` (`--rendition` and `#@rendition` lines), then the geometry every
/// accepted request snaps to against a few source sizes.
///
/// Input: a query string (what follows `?`), then NUL, then a `--rendition` value.
///
/// Invariants: an accepted request's numbers lie in their bounds (width and height 1 to 16384,
/// quality 1 to 100, a crop of at least 16x16); a geometry is never larger than the source or
/// its crop, its sides are even and at least 2, a snapped side is a multiple of 16, its quality
/// in 1...100, its crop inside the source; a decode plan of it (both inputs) stays inside the
/// picture; nothing traps.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafeRawPointer, _ size: Int) -> CInt {
    let fields = FuzzInput(data, size).fields
    var query: [String: String] = [:]
    for pair in (fields.first ?? "").split(separator: "&") {
        guard let equals = pair.firstIndex(of: "=") else { continue }
        query[String(pair[..<equals])] = String(pair[pair.index(after: equals)...])
    }
    if case .success(let request?) = RenditionRequest.parse({ query[$0] }) { check(request) }
    if fields.count > 1 {
        if case .success(let request) = RenditionRequest.parse(spec: fields[1]) { check(request) }
        if case .success(let named) = NamedRendition.parse(fields[1]) {
            invariant(!named.name.isEmpty && !named.name.contains("@"), "a rendition named \(named.name)")
            check(named.request)
        }
    }
    return 0
}

private func check(_ request: RenditionRequest) {
    if let width = request.width { invariant((1...16384).contains(width), "width \(width)") }
    if let height = request.height { invariant((1...16384).contains(height), "height \(height)") }
    if let quality = request.quality { invariant((1...100).contains(quality), "quality \(quality)") }
    if let crop = request.crop { invariant(crop.width >= 16 && crop.height >= 16 && crop.x >= 0 && crop.y >= 0, "crop \(crop)") }
    for (sourceWidth, sourceHeight) in [(1280, 720), (1920, 1080), (641, 481), (16, 16), (4096, 2160)] {
        guard case .success(let geometry) = request.geometry(sourceWidth: sourceWidth, sourceHeight: sourceHeight) else { continue }
        let regionWidth = request.crop?.width ?? sourceWidth
        let regionHeight = request.crop?.height ?? sourceHeight
        invariant(geometry.width >= 2 && geometry.height >= 2 && geometry.width % 2 == 0 && geometry.height % 2 == 0, "\(geometry)")
        invariant(geometry.width <= regionWidth && geometry.height <= regionHeight, "\(geometry) of \(regionWidth)x\(regionHeight)")
        invariant((1...100).contains(geometry.quality), "\(geometry)")
        if let crop = geometry.crop {
            invariant(crop.x + crop.width <= sourceWidth && crop.y + crop.height <= sourceHeight, "\(crop) of \(sourceWidth)x\(sourceHeight)")
        }
        if let width = request.width, request.height == nil, geometry.width < (regionWidth & ~1) {
            invariant(geometry.width % 16 == 0, "width \(width) snapped to \(geometry.width)")
        }
        if let plan = ScaledDecodePlan.plan(
            sourceWidth: sourceWidth, sourceHeight: sourceHeight, crop: geometry.crop, outputWidth: geometry.width, outputHeight: geometry.height)
        {
            let scaledWidth = (sourceWidth * plan.eighths + 7) / 8
            let scaledHeight = (sourceHeight * plan.eighths + 7) / 8
            let region = plan.region
            invariant(region.width % 8 == 0 && region.height % 2 == 0 && region.x + region.width <= scaledWidth && region.y + region.height <= scaledHeight,
                "decode plan \(plan) of \(sourceWidth)x\(sourceHeight)")
        }
        if let plan = RawShrinkPlan.plan(
            sourceWidth: sourceWidth, sourceHeight: sourceHeight, crop: geometry.crop, outputWidth: geometry.width, outputHeight: geometry.height)
        {
            invariant(plan.width % 8 == 0 && plan.height % 2 == 0 && plan.x + plan.width * plan.factor <= sourceWidth
                && plan.y + plan.height * plan.factor <= sourceHeight, "shrink plan \(plan) of \(sourceWidth)x\(sourceHeight)")
        }
    }
}
