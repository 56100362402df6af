// Imports nothing: compiled into the `rendition_request` fuzz target too (see Fuzz/run.sh).

/// How a rendition decodes one source frame: libjpeg's scale (`eighths`/8) and the region of the
/// scaled picture it keeps, the crop in scaled pixels.
///
/// The scale is the smallest whose region is still at least the output size, so that videoscale
/// only ever shrinks by less than a factor of two and the decoder computes as few coefficients as
/// the output allows: a 480x270 rendition of a 1080p frame decodes it at 1/4.
public struct ScaledDecodePlan: Sendable, Equatable {
    public let eighths: Int
    /// Its width is a multiple of 8 and its height even: the I420 planes then need no padding.
    public let region: PictureRegion

    public init(eighths: Int, region: PictureRegion) {
        self.eighths = eighths
        self.region = region
    }

    /// Nil when the crop leaves nothing of a `sourceWidth` x `sourceHeight` picture.
    public static func plan(sourceWidth: Int, sourceHeight: Int, crop: PictureRegion?, outputWidth: Int, outputHeight: Int) -> ScaledDecodePlan? {
        guard sourceWidth > 0, sourceHeight > 0 else { return nil }
        let crop = crop ?? PictureRegion(x: 0, y: 0, width: sourceWidth, height: sourceHeight)
        guard crop.x >= 0, crop.y >= 0, crop.x < sourceWidth, crop.y < sourceHeight, crop.width > 0, crop.height > 0 else { return nil }
        for eighths in 1...8 {
            // libjpeg's scaled size: the source size times eighths/8, rounded up.
            let scaledWidth = (sourceWidth * eighths + 7) / 8
            let scaledHeight = (sourceHeight * eighths + 7) / 8
            let x = crop.x * eighths / 8
            let y = crop.y * eighths / 8
            var width = min(crop.width * eighths / 8, scaledWidth - x)
            var height = min(crop.height * eighths / 8, scaledHeight - y)
            width -= width % 8
            height -= height % 2
            guard width >= outputWidth && height >= outputHeight || eighths == 8 else { continue }
            guard width >= 8, height >= 2 else { return nil }
            return ScaledDecodePlan(eighths: eighths, region: PictureRegion(x: x, y: y, width: width, height: height))
        }
        return nil
    }
}

/// How a rendition shrinks one raw picture: a whole factor (a box filter of factor x factor) and
/// the size it shrinks the crop to, at least the output size (videoscale only ever shrinks the
/// rest, by less than the next factor would).
public struct RawShrinkPlan: Sendable, Equatable {
    public let factor: Int
    /// Top-left of the crop in source pixels.
    public let x: Int
    public let y: Int
    /// A multiple of 8 and even, as `ScaledDecodePlan`'s region.
    public let width: Int
    public let height: Int

    public static func plan(sourceWidth: Int, sourceHeight: Int, crop: PictureRegion?, outputWidth: Int, outputHeight: Int) -> RawShrinkPlan? {
        guard sourceWidth > 0, sourceHeight > 0 else { return nil }
        let crop = crop ?? PictureRegion(x: 0, y: 0, width: sourceWidth, height: sourceHeight)
        let x = crop.x & ~1
        let y = crop.y & ~1
        guard x >= 0, y >= 0, x < sourceWidth, y < sourceHeight, crop.width > 0, crop.height > 0 else { return nil }
        let regionWidth = min(crop.width, sourceWidth - x)
        let regionHeight = min(crop.height, sourceHeight - y)
        var best: RawShrinkPlan?
        for factor in 1...16 {
            let width = regionWidth / factor - regionWidth / factor % 8
            let height = regionHeight / factor - regionHeight / factor % 2
            guard width >= 8, height >= 2 else { break }
            if factor == 1 || (width >= outputWidth && height >= outputHeight) {
                best = RawShrinkPlan(factor: factor, x: x, y: y, width: width, height: height)
            } else {
                break
            }
        }
        return best
    }
}
