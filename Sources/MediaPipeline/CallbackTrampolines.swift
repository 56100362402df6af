import CGst

/// Swift context handed to C callbacks as `user_data`: retained when installed,
/// released by GStreamer through the matching `GDestroyNotify`.
final class CallbackBox<Handler: Sendable>: Sendable {
    let handler: Handler
    init(_ handler: Handler) { self.handler = handler }

    func retainedPointer() -> UnsafeMutableRawPointer {
        Unmanaged.passRetained(self).toOpaque()
    }

    static func from(_ pointer: UnsafeMutableRawPointer) -> CallbackBox<Handler> {
        Unmanaged<CallbackBox<Handler>>.fromOpaque(pointer).takeUnretainedValue()
    }
}

typealias SampleBox = CallbackBox<SampleHandler>
typealias RawPictureBox = CallbackBox<RawPictureHandler>
typealias BusBox = CallbackBox<BusEventHandler>

/// The C entry points GStreamer calls. They live in a nonisolated enum as `@convention(c)`
/// values because GStreamer calls them on its own threads, never on an actor.
enum CallbackTrampolines {
    /// appsink `new_sample`: pull, map, hand the bytes to Swift, unmap and unref. Never blocks
    /// beyond the handler, which itself must not block.
    static let newSample: @convention(c) (UnsafeMutablePointer<GstAppSink>?, gpointer?) -> GstFlowReturn = { appSink, userData in
        guard let appSink, let userData else { return GST_FLOW_ERROR }
        guard let sample = gst_app_sink_pull_sample(appSink) else {
            // Only NULL when the sink is flushing or at end-of-stream.
            return GST_FLOW_FLUSHING
        }
        defer { gst_sample_unref(sample) }
        guard let buffer = gst_sample_get_buffer(sample) else { return GST_FLOW_OK }

        var width: gint = 0
        var height: gint = 0
        if let caps = gst_sample_get_caps(sample), gst_caps_get_size(caps) > 0,
            let structure = gst_caps_get_structure(caps, 0)
        {
            _ = gst_structure_get_int(structure, "width", &width)
            _ = gst_structure_get_int(structure, "height", &height)
        }

        var map = GstMapInfo()
        guard gst_buffer_map(buffer, &map, GST_MAP_READ) != 0 else { return GST_FLOW_OK }
        defer { gst_buffer_unmap(buffer, &map) }

        let bytes = UnsafeRawBufferPointer(start: map.data, count: Int(map.size))
        // GST_CLOCK_TIME_NONE (all bits set) is "no timestamp".
        let pts = UInt64(buffer.pointee.pts)
        let format = SampleFormat(width: Int(width), height: Int(height), presentationTimestamp: pts == UInt64.max ? nil : pts)
        SampleBox.from(userData).handler(bytes, format)
        return GST_FLOW_OK
    }

    /// The `raw` appsink's `new_sample`: the picture goes to Swift with its own reference to the
    /// sample (no copy); Swift releases it when the last rendition is done with it.
    static let newRawPicture: @convention(c) (UnsafeMutablePointer<GstAppSink>?, gpointer?) -> GstFlowReturn = { appSink, userData in
        guard let appSink, let userData else { return GST_FLOW_ERROR }
        guard let sample = gst_app_sink_pull_sample(appSink) else { return GST_FLOW_FLUSHING }
        // Takes the pull's reference.
        if let picture = RawPicture(sample: sample) {
            RawPictureBox.from(userData).handler(picture)
        }
        return GST_FLOW_OK
    }

    static let releaseRawPictureBox: @convention(c) (gpointer?) -> Void = { pointer in
        guard let pointer else { return }
        Unmanaged<RawPictureBox>.fromOpaque(pointer).release()
    }

    /// Bus sync handler: runs on the thread that posted the message. Every message is dropped
    /// here (nobody pops the bus, so passing them on would only queue them forever).
    ///
    /// Returning `GST_BUS_DROP` hands the message to us: it is unreffed on every path, or it stays
    /// alive forever and keeps its source element, and with it the whole pipeline, alive too.
    static let busSync: @convention(c) (UnsafeMutablePointer<GstBus>?, UnsafeMutablePointer<GstMessage>?, gpointer?) -> GstBusSyncReply = { _, message, userData in
        guard let message else { return GST_BUS_DROP }
        defer { gst_message_unref(message) }
        guard let userData else { return GST_BUS_DROP }
        let handler = BusBox.from(userData).handler
        switch message.pointee.type {
        case GST_MESSAGE_ERROR:
            handler(.error(fault(from: message, parse: gst_message_parse_error)))
        case GST_MESSAGE_WARNING:
            handler(.warning(fault(from: message, parse: gst_message_parse_warning)))
        case GST_MESSAGE_EOS:
            handler(.endOfStream)
        default:
            break
        }
        return GST_BUS_DROP
    }

    static let releaseSampleBox: @convention(c) (gpointer?) -> Void = { pointer in
        guard let pointer else { return }
        Unmanaged<SampleBox>.fromOpaque(pointer).release()
    }

    static let releaseBusBox: @convention(c) (gpointer?) -> Void = { pointer in
        guard let pointer else { return }
        Unmanaged<BusBox>.fromOpaque(pointer).release()
    }

    private typealias ParseFunction = (
        UnsafeMutablePointer<GstMessage>?,
        UnsafeMutablePointer<UnsafeMutablePointer<GError>?>?,
        UnsafeMutablePointer<UnsafeMutablePointer<gchar>?>?
    ) -> Void

    private static func fault(from message: UnsafeMutablePointer<GstMessage>, parse: ParseFunction) -> PipelineFault {
        var error: UnsafeMutablePointer<GError>?
        var debug: UnsafeMutablePointer<gchar>?
        parse(message, &error, &debug)
        defer {
            if let error { g_error_free(error) }
            g_free(debug)
        }
        let path = fc_message_source_path(message)
        defer { g_free(path) }
        return PipelineFault(
            element: path.map { String(cString: $0) },
            message: error.flatMap { $0.pointee.message.map { String(cString: $0) } } ?? "unknown error",
            debug: debug.map { String(cString: $0) }
        )
    }
}
