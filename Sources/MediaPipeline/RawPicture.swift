import CGst

/// One raw I420 picture of a pipeline's `raw` appsink, held without a copy (a reference to its
/// GStreamer sample) for as long as a rendition needs it.
///
/// `@unchecked Sendable`: the sample is immutable once pulled and its reference count is atomic.
public final class RawPicture: @unchecked Sendable {
    private let sample: OpaquePointer
    public let width: Int
    public let height: Int

    /// Takes `sample`'s reference; nil (the sample released) when it is not I420 video.
    init?(sample: OpaquePointer) {
        var info = GstVideoInfo()
        guard let caps = gst_sample_get_caps(sample), gst_video_info_from_caps(&info, caps) != 0,
            info.finfo?.pointee.format == GST_VIDEO_FORMAT_I420, gst_sample_get_buffer(sample) != nil
        else {
            gst_sample_unref(sample)
            return nil
        }
        self.sample = sample
        self.width = Int(info.width)
        self.height = Int(info.height)
    }

    deinit { gst_sample_unref(sample) }

    /// The three planes and their strides, valid during `body`; nil when the buffer cannot be mapped.
    func withPlanes<T>(_ body: ([UnsafePointer<UInt8>?], [Int32]) -> T) -> T? {
        var info = GstVideoInfo()
        guard let caps = gst_sample_get_caps(sample), gst_video_info_from_caps(&info, caps) != 0,
            let buffer = gst_sample_get_buffer(sample)
        else { return nil }
        var frame = GstVideoFrame()
        guard gst_video_frame_map(&frame, &info, buffer, GST_MAP_READ) != 0 else { return nil }
        defer { gst_video_frame_unmap(&frame) }
        guard fc_video_frame_is_i420(&frame) != 0 else { return nil }
        let planes = (0..<3).map { fc_video_frame_plane(&frame, guint($0)) }
        let strides = (0..<3).map { fc_video_frame_stride(&frame, guint($0)) }
        return body(planes, strides)
    }
}

/// Receives each raw picture on the `raw` appsink's streaming thread. Must not block; keep the
/// picture (not its planes) to use it later.
public typealias RawPictureHandler = @Sendable (RawPicture) -> Void
