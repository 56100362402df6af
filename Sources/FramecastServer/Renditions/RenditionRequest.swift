// Imports MediaPipeline only for PictureRegion, which the `rendition_request` fuzz target compiles
// in beside this file (see Fuzz/run.sh); nothing else here needs more than the standard library.
#if canImport(MediaPipeline)
public import MediaPipeline
#endif

/// What a viewer asks of a stream's picture: `?width=`, `?height=`, `?quality=`, `?crop=X,Y,W,H`
/// (or the same keys in a wall subscription or a `--rendition` spec). Parsed into bounded numbers
/// here; checked against the source's size, and snapped, by `geometry(sourceWidth:sourceHeight:)`.
public struct RenditionRequest: Sendable, Hashable {
    public var width: Int?
    public var height: Int?
    public var quality: Int?
    public var crop: PictureRegion?

    public init(width: Int? = nil, height: Int? = nil, quality: Int? = nil, crop: PictureRegion? = nil) {
        self.width = width
        self.height = height
        self.quality = quality
        self.crop = crop
    }

    /// jpegenc's default, for a rendition that does not say.
    public static let defaultQuality = 85
    /// The keys a rendition is asked with.
    public static let keys = ["width", "height", "quality", "crop"]

    public struct Refusal: Error, Sendable, Equatable, CustomStringConvertible {
        public let description: String
    }

    /// Reads the rendition keys out of `value(key)` (a query string's or a spec's). Nil when none
    /// is present: the viewer wants the source itself.
    public static func parse(_ value: (String) -> String?) -> Result<RenditionRequest?, Refusal> {
        guard keys.contains(where: { value($0) != nil }) else { return .success(nil) }
        var request = RenditionRequest()
        func read(_ key: String, _ bound: BoundedNumber) throws(Refusal) -> Int? {
            guard let text = value(key) else { return nil }
            return try whole(text, bound)
        }
        do throws(Refusal) {
            request.width = try read("width", Limits.renditionWidth)
            request.height = try read("height", Limits.renditionHeight)
            request.quality = try read("quality", Limits.renditionQuality)
            if let crop = value("crop") { request.crop = try parseCrop(crop) }
        } catch {
            return .failure(error)
        }
        return .success(request)
    }

    /// `name=value` pairs joined by commas or `&`, as `--rendition thumb=width=320,quality=50`
    /// and `#@rendition` lines write them (a crop's own commas are kept: `crop=0,0,640,360`).
    public static func parse(spec: String) -> Result<RenditionRequest, Refusal> {
        var values: [String: String] = [:]
        var key: String?
        for piece in spec.split(whereSeparator: { $0 == "," || $0 == "&" }).map(String.init) {
            if let equals = piece.firstIndex(of: "=") {
                let name = String(piece[..<equals])
                guard keys.contains(name) else {
                    return .failure(Refusal(description: "unknown rendition key '\(BoundedNumber.quotable(name))': use width, height, quality or crop"))
                }
                guard values[name] == nil else { return .failure(Refusal(description: "'\(name)' is given twice")) }
                values[name] = String(piece[piece.index(after: equals)...])
                key = name
            } else if key == "crop" {
                values["crop", default: ""] += "," + piece
            } else {
                return .failure(Refusal(description: "expected NAME=VALUE, not '\(BoundedNumber.quotable(piece))'"))
            }
        }
        switch parse({ values[$0] }) {
        case .success(let request?): return .success(request)
        case .success(nil): return .failure(Refusal(description: "a rendition needs width, height, quality or crop"))
        case .failure(let refusal): return .failure(refusal)
        }
    }

    private static func whole(_ text: String, _ bound: BoundedNumber) throws(Refusal) -> Int {
        switch bound.parseWhole(text) {
        case .success(let value): return value
        case .failure(let refusal): throw Refusal(description: refusal.description)
        }
    }

    private static func parseCrop(_ text: String) throws(Refusal) -> PictureRegion {
        let parts = text.split(separator: ",", omittingEmptySubsequences: false).map(String.init)
        guard parts.count == 4 else {
            throw Refusal(description: "crop must be X,Y,W,H in source pixels, not '\(BoundedNumber.quotable(text))'")
        }
        var numbers: [Int] = []
        for part in parts { numbers.append(try whole(part, Limits.cropCoordinate)) }
        let region = PictureRegion(x: numbers[0], y: numbers[1], width: numbers[2], height: numbers[3])
        guard region.width >= 16, region.height >= 16 else {
            throw Refusal(description: "a crop must be at least 16x16 pixels, not \(region.width)x\(region.height)")
        }
        return region
    }

    /// The rendition this request gets from a `sourceWidth` x `sourceHeight` source: near-identical
    /// requests snap to one geometry so that they share one encoder.
    /// - the asked width (or height) to a multiple of 16, the other side from the aspect ratio of
    ///   the source (or of the crop) rounded to an even number; both asked: the largest that fits;
    /// - never larger than the source or the crop (no upscaling): asking for more gets all of it;
    /// - a crop must lie inside the source.
    public func geometry(sourceWidth: Int, sourceHeight: Int) -> Result<RenditionGeometry, Refusal> {
        guard sourceWidth >= 16, sourceHeight >= 16 else {
            return .failure(Refusal(description: "the source's frames are \(sourceWidth)x\(sourceHeight): too small for a rendition"))
        }
        if let crop, crop.x + crop.width > sourceWidth || crop.y + crop.height > sourceHeight {
            return .failure(Refusal(description: "crop \(crop) is outside the \(sourceWidth)x\(sourceHeight) frame"))
        }
        // A crop of the whole frame is no crop.
        let crop = self.crop == PictureRegion(x: 0, y: 0, width: sourceWidth, height: sourceHeight) ? nil : self.crop
        let regionWidth = crop?.width ?? sourceWidth
        let regionHeight = crop?.height ?? sourceHeight
        let size: (width: Int, height: Int)
        switch (width, height) {
        case (nil, nil):
            size = Self.whole(regionWidth, regionHeight)
        case (let width?, nil):
            size = Self.fit(width: width, regionWidth, regionHeight)
        case (nil, let height?):
            size = Self.fit(height: height, regionWidth, regionHeight)
        case (let width?, let height?):
            // The side that limits the picture decides; snapped down, so that it fits both.
            var fitted = Double(width) / Double(regionWidth) <= Double(height) / Double(regionHeight)
                ? Self.fit(width: width, regionWidth, regionHeight)
                : Self.fit(height: height, regionWidth, regionHeight)
            if fitted.width > width || fitted.height > height {
                fitted = Double(width) / Double(regionWidth) <= Double(height) / Double(regionHeight)
                    ? Self.fit(width: max(16, width / 16 * 16), regionWidth, regionHeight)
                    : Self.fit(height: max(16, height / 16 * 16), regionWidth, regionHeight)
            }
            size = fitted
        }
        guard size.width <= 16384, size.height <= 16384 else {
            return .failure(Refusal(description: "a rendition is at most 16384 pixels wide and high: ask for a smaller width or height"))
        }
        return .success(RenditionGeometry(width: size.width, height: size.height, quality: quality ?? Self.defaultQuality, crop: crop))
    }

    private static func snap16(_ value: Int) -> Int { max(16, Int((Double(value) / 16).rounded()) * 16) }
    private static func even(_ value: Double) -> Int { max(2, Int((value / 2).rounded()) * 2) }
    private static func whole(_ width: Int, _ height: Int) -> (width: Int, height: Int) { (max(2, width & ~1), max(2, height & ~1)) }

    private static func fit(width: Int, _ regionWidth: Int, _ regionHeight: Int) -> (width: Int, height: Int) {
        let snapped = snap16(width)
        guard snapped < regionWidth else { return whole(regionWidth, regionHeight) }
        return (snapped, min(regionHeight & ~1, even(Double(snapped) * Double(regionHeight) / Double(regionWidth))))
    }

    private static func fit(height: Int, _ regionWidth: Int, _ regionHeight: Int) -> (width: Int, height: Int) {
        let snapped = snap16(height)
        guard snapped < regionHeight else { return whole(regionWidth, regionHeight) }
        return (min(regionWidth & ~1, even(Double(snapped) * Double(regionWidth) / Double(regionHeight))), snapped)
    }
}

/// One rendition as it is encoded: output size, JPEG quality and the region of the source. Two
/// viewers whose requests snap to the same geometry share one encoder.
public struct RenditionGeometry: Sendable, Hashable, CustomStringConvertible {
    public var width: Int
    public var height: Int
    public var quality: Int
    public var crop: PictureRegion?

    /// "320x180q50", "640x360q85c0,0,1280,720": the part after `@` in the rendition's stream name.
    public var description: String {
        "\(width)x\(height)q\(quality)" + (crop.map { "c\($0)" } ?? "")
    }
}

/// `--rendition [STREAM@]NAME=SPEC`: a rendition served as `/stream/STREAM@NAME`, of one stream
/// or (without `STREAM@`) of every stream.
public struct NamedRendition: Sendable, Equatable {
    public var stream: String?
    public var name: String
    public var request: RenditionRequest

    public init(stream: String?, name: String, request: RenditionRequest) {
        self.stream = stream
        self.name = name
        self.request = request
    }

    /// Reads `[STREAM@]NAME=width=640,quality=60`, or says why it cannot.
    public static func parse(_ text: String) -> Result<NamedRendition, RenditionRequest.Refusal> {
        guard let equals = text.firstIndex(of: "=") else {
            return .failure(.init(description: "--rendition '\(BoundedNumber.quotable(text))': expected [STREAM@]NAME=width=W,height=H,quality=Q,crop=X,Y,W,H"))
        }
        let label = String(text[..<equals])
        let parts = label.split(separator: "@", omittingEmptySubsequences: false).map(String.init)
        guard (1...2).contains(parts.count), parts.allSatisfy(StreamName.isValid) else {
            return .failure(.init(description: "--rendition '\(BoundedNumber.quotable(label))': names are lower-case letters, digits, - and _ (STREAM@NAME or NAME)"))
        }
        switch RenditionRequest.parse(spec: String(text[text.index(after: equals)...])) {
        case .success(let request):
            return .success(NamedRendition(stream: parts.count == 2 ? parts[0] : nil, name: parts.last!, request: request))
        case .failure(let refusal):
            return .failure(.init(description: "--rendition \(label): \(refusal.description)"))
        }
    }
}
