import CGst
import CJPEGScale
import Dispatch
import Synchronization

/// One rendition's encoder: each source JPEG is decoded at a reduced scale in C (libjpeg's DCT
/// scaling, `CJPEGScale`), cropped, and pushed as raw I420 into a GStreamer pipeline
/// (`appsrc ! videoscale ! jpegenc ! appsink`) that sizes and encodes it on its own streaming
/// thread. Its pictures arrive through the sample handler like any pipeline's, each stamped with
/// the timestamp its source frame was pushed with (`SampleFormat.presentationTimestamp`), so a
/// rendition's frames keep their source's capture time.
///
/// The appsrc holds one picture and drops the older one when a newer arrives: an encoder that
/// falls behind skips pictures, it never queues them or slows the caller.
///
/// `@unchecked Sendable`: the C decoder is behind its `Mutex`; the appsrc locks itself.
public final class RenditionEncoder: @unchecked Sendable {
    public let width: Int
    public let height: Int
    public let quality: Int
    public let crop: PictureRegion?

    private let pipeline: Pipeline
    private let appSource: UnsafeMutablePointer<GstAppSrc>
    private let timing: EncodeTiming

    /// The C decoder, used by one caller at a time: behind `decoderLock`.
    private let scaler: OpaquePointer
    /// The picture size the appsrc's caps announce; behind `decoderLock`.
    private var capsSize: (width: Int, height: Int)?
    private let decoderLock = Mutex(())

    /// Builds the encoder's pipeline (nothing runs until `play()`). `width` and `height` are the
    /// output size, `crop` a region of the source in source pixels. `delayForTesting`
    /// (microseconds per picture) makes a slow encoder, for tests of what a slow rendition does.
    public init(
        width: Int, height: Int, quality: Int, crop: PictureRegion?, delayForTesting: Int = 0,
        onSample: @escaping SampleHandler, onBusEvent: @escaping BusEventHandler
    ) throws(PipelineError) {
        guard (1...16384).contains(width), (1...16384).contains(height), (1...100).contains(quality) else {
            throw .rendition("bad size \(width)x\(height) or quality \(quality)")
        }
        self.width = width
        self.height = height
        self.quality = quality
        self.crop = crop
        let timing = EncodeTiming()
        self.timing = timing
        let description = """
            appsrc name=src is-live=true format=time max-buffers=1 leaky-type=downstream block=false \
            ! videoscale ! video/x-raw,width=\(width),height=\(height) \
            \(delayForTesting > 0 ? "! identity sleep-time=\(delayForTesting)" : "") \
            ! jpegenc quality=\(quality) ! appsink name=sink sync=false
            """
        let pipeline = try Pipeline(
            description: description,
            onSample: { bytes, format in
                if let stamp = format.presentationTimestamp { timing.encoded(stamp) }
                onSample(bytes, format)
            },
            onBusEvent: onBusEvent)
        guard let appSource = pipeline.appSource else { throw .rendition("the encoder pipeline has no appsrc") }
        guard let scaler = fc_jpeg_scaler_new() else { throw .rendition("out of memory for the JPEG decoder") }
        self.pipeline = pipeline
        self.appSource = appSource
        self.scaler = scaler
    }

    deinit {
        pipeline.stop()
        fc_jpeg_scaler_free(scaler)
    }

    public func play() throws(PipelineError) { try pipeline.play() }

    /// Sets the pipeline to NULL; later `encode` calls push into nothing.
    public func stop() { pipeline.stop() }

    /// Milliseconds from a source frame handed to `encode` to its rendition leaving the encoder
    /// (decode, scale and encode), averaged over the recent frames; nil before the first.
    public var encodeMilliseconds: Double? { timing.averageMilliseconds }

    /// Shrinks one raw picture of the source (no decode: see `RawPicture`) and pushes it to the
    /// encoder, stamped with `timestamp`. Blocking for the shrink (about a millisecond for 1080p):
    /// off the event loops, one caller at a time.
    public func encode(_ picture: RawPicture, timestamp: UInt64) throws(PipelineError) {
        guard
            let plan = RawShrinkPlan.plan(
                sourceWidth: picture.width, sourceHeight: picture.height, crop: crop, outputWidth: width, outputHeight: height)
        else {
            throw .rendition("the crop \(crop?.description ?? "-") is outside the \(picture.width)x\(picture.height) source")
        }
        let started = DispatchTime.now().uptimeNanoseconds
        try push(width: plan.width, height: plan.height, timestamp: timestamp, startedAt: started) { out, capacity in
            let status = picture.withPlanes { planes, strides -> Int32 in
                var pointers: [UnsafePointer<UInt8>?] = planes
                var lines = strides
                return pointers.withUnsafeMutableBufferPointer { pointers in
                    lines.withUnsafeMutableBufferPointer { lines in
                        fc_i420_box_shrink(
                            pointers.baseAddress, lines.baseAddress, Int32(picture.width), Int32(picture.height), Int32(plan.x), Int32(plan.y),
                            Int32(plan.factor), Int32(plan.width), Int32(plan.height), out, capacity)
                    }
                }
            }
            return status == 0 ? nil : "cannot shrink a \(picture.width)x\(picture.height) picture by \(plan.factor)"
        }
    }

    /// Decodes one source frame of `sourceWidth` x `sourceHeight` and pushes it to the encoder,
    /// stamped with `timestamp` (nanoseconds; must increase from frame to frame). Blocking for
    /// the decode (a few milliseconds at most): call it off the event loops, one caller at a time.
    public func encode(_ jpeg: UnsafeRawBufferPointer, sourceWidth: Int, sourceHeight: Int, timestamp: UInt64) throws(PipelineError) {
        guard let base = jpeg.baseAddress, !jpeg.isEmpty else { throw .rendition("an empty frame") }
        guard
            let plan = ScaledDecodePlan.plan(
                sourceWidth: sourceWidth, sourceHeight: sourceHeight, crop: crop, outputWidth: width, outputHeight: height)
        else {
            throw .rendition("the crop \(crop?.description ?? "-") is outside the \(sourceWidth)x\(sourceHeight) source")
        }
        let started = DispatchTime.now().uptimeNanoseconds
        let region = plan.region
        try push(width: region.width, height: region.height, timestamp: timestamp, startedAt: started) { out, capacity in
            let status = fc_jpeg_scaler_decode_i420(
                scaler, base.assumingMemoryBound(to: UInt8.self), jpeg.count, Int32(plan.eighths), Int32(sourceWidth), Int32(sourceHeight),
                Int32(region.x), Int32(region.y), Int32(region.width), Int32(region.height), out, capacity)
            return status == 0 ? nil : String(cString: fc_jpeg_scaler_error(scaler))
        }
    }

    /// Fills a new `width` x `height` I420 buffer with `fill` (under the decoder's lock; it
    /// returns why it failed, or nil) and pushes it, renegotiating the appsrc's caps when the
    /// size changed.
    private func push(
        width: Int, height: Int, timestamp: UInt64, startedAt: UInt64, fill: (UnsafeMutablePointer<UInt8>?, Int) -> String?
    ) throws(PipelineError) {
        let size = width * height * 3 / 2
        guard let buffer = gst_buffer_new_allocate(nil, gsize(size), nil) else { throw .rendition("out of memory for a picture") }
        var map = GstMapInfo()
        guard gst_buffer_map(buffer, &map, GST_MAP_WRITE) != 0 else {
            gst_buffer_unref(buffer)
            throw .rendition("cannot map a picture buffer")
        }
        let failure = decoderLock.withLock { _ -> String? in
            if let failure = fill(map.data, Int(map.size)) { return failure }
            if capsSize?.width != width || capsSize?.height != height {
                // A new size (the first frame, or a source that changed size) renegotiates.
                capsSize = (width, height)
                let text = "video/x-raw,format=I420,width=\(width),height=\(height),framerate=0/1,pixel-aspect-ratio=1/1"
                if let caps = gst_caps_from_string(text) {
                    gst_app_src_set_caps(appSource, caps)
                    gst_caps_unref(caps)
                }
            }
            return nil
        }
        gst_buffer_unmap(buffer, &map)
        if let failure {
            gst_buffer_unref(buffer)
            throw .rendition(failure)
        }
        buffer.pointee.pts = GstClockTime(timestamp)
        timing.pushed(timestamp, startedAt: startedAt)
        // Takes the buffer. FLUSHING once stopped: the frame is simply not encoded.
        _ = gst_app_src_push_buffer(appSource, buffer)
    }
}

/// When each picture went into the encoder and how long it took to come out.
private final class EncodeTiming: Sendable {
    private struct State {
        /// Pictures pushed and not yet out, oldest first (a handful: the appsrc holds one).
        var inFlight: [(stamp: UInt64, startedAt: UInt64)] = []
        var average: Double?
    }

    private let state = Mutex(State())

    func pushed(_ stamp: UInt64, startedAt: UInt64) {
        state.withLock { state in
            state.inFlight.append((stamp, startedAt))
            // Pictures the appsrc dropped never come out: keep the list short.
            if state.inFlight.count > 8 { state.inFlight.removeFirst(state.inFlight.count - 8) }
        }
    }

    func encoded(_ stamp: UInt64) {
        let now = DispatchTime.now().uptimeNanoseconds
        state.withLock { state in
            guard let index = state.inFlight.firstIndex(where: { $0.stamp == stamp }) else { return }
            let milliseconds = Double(now &- state.inFlight[index].startedAt) / 1e6
            state.inFlight.removeFirst(index + 1)
            state.average = state.average.map { $0 * 0.9 + milliseconds * 0.1 } ?? milliseconds
        }
    }

    var averageMilliseconds: Double? { state.withLock { $0.average } }
}

/// A JPEG's picture size, read from its header.
public enum JPEGHeader {
    public static func size(of jpeg: UnsafeRawBufferPointer) -> (width: Int, height: Int)? {
        guard let base = jpeg.baseAddress, !jpeg.isEmpty, let scaler = fc_jpeg_scaler_new() else { return nil }
        defer { fc_jpeg_scaler_free(scaler) }
        var width: Int32 = 0
        var height: Int32 = 0
        guard fc_jpeg_scaler_read_size(scaler, base.assumingMemoryBound(to: UInt8.self), jpeg.count, &width, &height) == 0 else { return nil }
        return (Int(width), Int(height))
    }
}

/// A JPEG decoded to its luma plane (for tests that compare pictures).
public enum JPEGLuma {
    /// The Y plane, `width` a multiple of 8 and `height` even (the picture cut to that), row after row.
    public static func decode(_ jpeg: [UInt8]) -> (width: Int, height: Int, luma: [UInt8])? {
        jpeg.withUnsafeBytes { bytes -> (Int, Int, [UInt8])? in
            guard let size = JPEGHeader.size(of: bytes), let base = bytes.baseAddress, let scaler = fc_jpeg_scaler_new() else { return nil }
            defer { fc_jpeg_scaler_free(scaler) }
            let width = size.width - size.width % 8
            let height = size.height - size.height % 2
            guard width > 0, height > 0 else { return nil }
            var planes = [UInt8](repeating: 0, count: width * height * 3 / 2)
            let status = planes.withUnsafeMutableBufferPointer { out in
                fc_jpeg_scaler_decode_i420(
                    scaler, base.assumingMemoryBound(to: UInt8.self), bytes.count, 8, Int32(size.width), Int32(size.height), 0, 0, Int32(width),
                    Int32(height), out.baseAddress, out.count)
            }
            guard status == 0 else { return nil }
            return (width, height, Array(planes[0..<(width * height)]))
        }
    }
}
