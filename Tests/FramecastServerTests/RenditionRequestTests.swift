import FramecastServer
import MediaPipeline
import Testing

/// The numbers of a rendition request, read into their bounds, and the geometry it snaps to.
struct RenditionRequestTests {
    static func parse(_ query: [String: String]) -> Result<RenditionRequest?, RenditionRequest.Refusal> {
        RenditionRequest.parse { query[$0] }
    }

    @Test func noKeyMeansTheSourceItself() throws {
        #expect(try Self.parse([:]).get() == nil)
        #expect(try Self.parse(["fps": "5"]).get() == nil)
    }

    /// Every outside number gets the same hostile table: each is a 400 with the reason.
    @Test(arguments: ["width", "height", "quality"], ["0", "-1", "1e-300", "1e300", "nan", "inf", "18446744073709551617", "", "1.5", " 1", "0x10"])
    func hostileNumbersAreRefusedWithTheReason(key: String, value: String) throws {
        guard case .failure(let refusal) = Self.parse([key: value]) else {
            Issue.record("\(key)=\(value) was accepted")
            return
        }
        #expect(refusal.description.hasPrefix("\(key) must be a whole number"))
    }

    @Test(arguments: ["0,0,0,0", "-1,0,64,64", "0,0,1e300,64", "0,0,nan,64", "0,0,64", "0,0,64,64,64", "", "a,b,c,d", "0,0,15,64", "0,0,65536,64"])
    func hostileCropsAreRefused(crop: String) {
        guard case .failure = Self.parse(["crop": crop]) else {
            Issue.record("crop=\(crop) was accepted")
            return
        }
    }

    @Test func theLargestValuesInRangeAreRead() throws {
        let request = try #require(try Self.parse(["width": "16384", "height": "16384", "quality": "100", "crop": "0,0,65535,65535"]).get())
        #expect(request.width == 16384 && request.height == 16384 && request.quality == 100)
        #expect(request.crop == PictureRegion(x: 0, y: 0, width: 65535, height: 65535))
    }

    /// (request, source size) → the snapped output size.
    @Test(arguments: [
        (RenditionRequest(width: 320), 1280, 720, 320, 180),
        (RenditionRequest(width: 640), 1280, 720, 640, 360),
        (RenditionRequest(width: 300), 1280, 720, 304, 172),
        (RenditionRequest(width: 1), 1280, 720, 16, 10),
        (RenditionRequest(width: 5000), 1280, 720, 1280, 720),
        (RenditionRequest(width: 1280), 1280, 720, 1280, 720),
        (RenditionRequest(height: 180), 1280, 720, 312, 176),
        (RenditionRequest(height: 100), 1280, 720, 170, 96),
        (RenditionRequest(width: 640, height: 100), 1280, 720, 170, 96),
        (RenditionRequest(width: 320, height: 1000), 1280, 720, 320, 180),
        (RenditionRequest(quality: 50), 1280, 720, 1280, 720),
        (RenditionRequest(width: 480), 1920, 1080, 480, 270),
        (RenditionRequest(width: 960), 1920, 1080, 960, 540),
        (RenditionRequest(width: 333), 641, 481, 336, 252),
        (RenditionRequest(crop: PictureRegion(x: 100, y: 100, width: 640, height: 360)), 1280, 720, 640, 360),
        (RenditionRequest(width: 320, crop: PictureRegion(x: 0, y: 0, width: 640, height: 640)), 1280, 720, 320, 320),
    ])
    func sizesSnapToSixteenAndTheAspectRatio(request: RenditionRequest, sourceWidth: Int, sourceHeight: Int, width: Int, height: Int) throws {
        let geometry = try request.geometry(sourceWidth: sourceWidth, sourceHeight: sourceHeight).get()
        #expect(geometry.width == width && geometry.height == height, "\(request) of \(sourceWidth)x\(sourceHeight)")
        #expect(geometry.quality == (request.quality ?? 85))
    }

    @Test func nearIdenticalRequestsShareOneGeometry() throws {
        let a = try RenditionRequest(width: 318).geometry(sourceWidth: 1280, sourceHeight: 720).get()
        let b = try RenditionRequest(width: 324).geometry(sourceWidth: 1280, sourceHeight: 720).get()
        #expect(a == b)
        #expect(a.description == "320x180q85")
    }

    @Test func aCropOutsideTheFrameIsRefused() {
        for crop in [PictureRegion(x: 1200, y: 0, width: 100, height: 100), PictureRegion(x: 0, y: 700, width: 64, height: 64)] {
            guard case .failure(let refusal) = RenditionRequest(crop: crop).geometry(sourceWidth: 1280, sourceHeight: 720) else {
                Issue.record("crop \(crop) accepted")
                continue
            }
            #expect(refusal.description.contains("outside the 1280x720 frame"))
        }
    }

    @Test func specsOfNamedRenditions() throws {
        let thumb = try NamedRendition.parse("thumb=width=320,quality=50").get()
        #expect(thumb.stream == nil && thumb.name == "thumb" && thumb.request == RenditionRequest(width: 320, quality: 50))
        let zoom = try NamedRendition.parse("cam@zoom=crop=640,360,640,360,width=320").get()
        #expect(zoom.stream == "cam" && zoom.name == "zoom")
        #expect(zoom.request == RenditionRequest(width: 320, crop: PictureRegion(x: 640, y: 360, width: 640, height: 360)))
        for bad in ["thumb", "=width=3", "Thumb=width=320", "a@b@c=width=320", "thumb=size=3", "thumb=width=0", "thumb=width=320,width=640", "thumb="] {
            guard case .failure = NamedRendition.parse(bad) else {
                Issue.record("--rendition \(bad) was accepted")
                continue
            }
        }
    }

    @Test func decodePlansPickTheSmallestScaleThatStillCoversTheOutput() throws {
        let quarter = try #require(ScaledDecodePlan.plan(sourceWidth: 1920, sourceHeight: 1080, crop: nil, outputWidth: 480, outputHeight: 270))
        #expect(quarter.eighths == 2 && quarter.region == PictureRegion(x: 0, y: 0, width: 480, height: 270 - 0))
        let half = try #require(ScaledDecodePlan.plan(sourceWidth: 1920, sourceHeight: 1080, crop: nil, outputWidth: 960, outputHeight: 540))
        #expect(half.eighths == 4)
        let odd = try #require(ScaledDecodePlan.plan(sourceWidth: 1920, sourceHeight: 1080, crop: nil, outputWidth: 640, outputHeight: 360))
        #expect(odd.eighths == 3 && odd.region.width >= 640 && odd.region.height >= 360)
        let zoom = try #require(
            ScaledDecodePlan.plan(sourceWidth: 1920, sourceHeight: 1080, crop: PictureRegion(x: 960, y: 540, width: 960, height: 540), outputWidth: 960, outputHeight: 540))
        #expect(zoom.eighths == 8 && zoom.region == PictureRegion(x: 960, y: 540, width: 960, height: 540))
        for plan in [quarter, half, odd, zoom] {
            #expect(plan.region.width % 8 == 0 && plan.region.height % 2 == 0)
        }
        #expect(ScaledDecodePlan.plan(sourceWidth: 0, sourceHeight: 0, crop: nil, outputWidth: 16, outputHeight: 16) == nil)
    }
}
