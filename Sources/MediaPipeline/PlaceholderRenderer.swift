import CGst

/// Renders the "NO SIGNAL" picture a stream shows while its pipeline is down: a dark frame of
/// the stream's last size with centred text, drawn and encoded by GStreamer (`videotestsrc`,
/// `textoverlay`, `jpegenc`), so it needs no image file and always matches the stream's size.
public enum PlaceholderRenderer {
    /// JPEG bytes, or nil when rendering failed (the text overlay plugin missing, say).
    /// Blocking: runs a one-frame pipeline to completion (a few milliseconds).
    public static func render(width: Int, height: Int, text: String) -> [UInt8]? {
        GStreamer.initialize()
        let width = max(64, min(width, 7680)) & ~1
        let height = max(48, min(height, 4320)) & ~1
        let fontSize = max(8, height / 14)
        let description = """
            videotestsrc num-buffers=1 pattern=solid-color foreground-color=0xff181818 \
            ! video/x-raw,format=I420,width=\(width),height=\(height) \
            ! textoverlay name=caption halignment=center valignment=center line-alignment=center \
            shaded-background=false font-desc="Sans Bold \(fontSize)px" \
            ! jpegenc quality=80 ! appsink name=sink
            """
        var error: UnsafeMutablePointer<GError>?
        guard let parsed = gst_parse_launch_full(description, nil, GST_PARSE_FLAG_FATAL_ERRORS, &error) else {
            if let error { g_error_free(error) }
            return nil
        }
        if let error { g_error_free(error) }
        let pipeline = gst_object_ref_sink(UnsafeMutableRawPointer(parsed)).assumingMemoryBound(to: GstElement.self)
        defer {
            _ = gst_element_set_state(pipeline, GST_STATE_NULL)
            gst_object_unref(UnsafeMutableRawPointer(pipeline))
        }
        // Each lookup is a full reference, released on its own: one guard over both would leak the
        // first when the second fails.
        guard let caption = gst_bin_get_by_name(fc_as_bin(pipeline), "caption") else { return nil }
        defer { gst_object_unref(UnsafeMutableRawPointer(caption)) }
        guard let sinkElement = gst_bin_get_by_name(fc_as_bin(pipeline), "sink") else { return nil }
        defer { gst_object_unref(UnsafeMutableRawPointer(sinkElement)) }
        // Set as a property, not inside the description: no quoting of the text to get wrong.
        gst_util_set_object_arg(UnsafeMutableRawPointer(caption).assumingMemoryBound(to: GObject.self), "text", text)
        guard let appSink = fc_as_app_sink(sinkElement),
            gst_element_set_state(pipeline, GST_STATE_PLAYING) != GST_STATE_CHANGE_FAILURE,
            let sample = gst_app_sink_try_pull_sample(appSink, 2_000_000_000)
        else { return nil }
        defer { gst_sample_unref(sample) }
        guard let buffer = gst_sample_get_buffer(sample) else { return nil }
        var map = GstMapInfo()
        guard gst_buffer_map(buffer, &map, GST_MAP_READ) != 0 else { return nil }
        defer { gst_buffer_unmap(buffer, &map) }
        return Array(UnsafeRawBufferPointer(start: map.data, count: Int(map.size)))
    }
}
