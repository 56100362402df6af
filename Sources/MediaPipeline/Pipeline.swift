import CGst
import Foundation
import Synchronization

/// One GStreamer pipeline whose element named `sink` is an appsink that yields JPEG.
///
/// Lifecycle: `init` parses and validates (nothing runs yet), `play()` starts it, `stop()` sets it
/// to NULL (a camera is released), `deinit` stops it and frees it. A stopped pipeline is not
/// restarted (`play()` throws): the owner builds a new one, which also clears any error state
/// inside elements.
///
/// `play()` and `stop()` may be called from different threads (the supervisor stops a pipeline on
/// a worker thread so that a stuck element cannot hold its queue); they take turns, and a `stop()`
/// racing a `play()` leaves the pipeline stopped. The sample and bus handlers run on GStreamer's
/// threads and must not call either (they would wait for themselves).
///
/// `@unchecked Sendable` because the C pointers are not `Sendable`. They are `let`s, set in `init`
/// and released in `deinit`, and the objects behind them lock themselves (reference counts are
/// atomic; `gst_element_set_state` takes the element's state lock; appsink locks its queue). The
/// only mutable field, `runState`, is behind its `Mutex`; `live` is an `Atomic`.
public final class Pipeline: @unchecked Sendable {
    /// The gst-launch description this pipeline was built from.
    public let description: String

    private let element: UnsafeMutablePointer<GstElement>
    private let appSink: UnsafeMutablePointer<GstAppSink>
    /// The appsrc named `src`, when the description has one: the owner pushes its frames
    /// (a rendition's pipeline). Nil for every camera pipeline.
    let appSource: UnsafeMutablePointer<GstAppSrc>?
    /// The appsink named `raw`, when the description has one: the raw pictures the JPEGs are
    /// encoded from, offered to renditions so that they never decode a JPEG.
    private let rawSink: UnsafeMutablePointer<GstAppSink>?
    private let bus: UnsafeMutablePointer<GstBus>?

    private enum RunState { case built, playing, stopped }
    /// Held across the state change in `play()` and `stop()`, so that the state recorded here is
    /// the one the pipeline was last set to (GStreamer serialises the changes, not our record).
    private let runState = Mutex(RunState.built)

    /// Pipelines built and not yet freed in this process, validation's included: for leak checks
    /// (a `Pipeline` kept alive by a retain cycle keeps its GStreamer pipeline alive too).
    public static var liveCount: Int { live.load(ordering: .acquiring) }
    private static let live = Atomic<Int>(0)

    /// Parses and validates a description without starting it.
    /// Throws a `PipelineError` that says what is wrong and how to fix it.
    public static func validate(_ description: String) throws(PipelineError) {
        _ = try Pipeline(description: description, onSample: nil, onBusEvent: nil)
    }

    /// Whether the description offers its raw pictures: an appsink named `raw` (after a `tee`
    /// before the encoder). Renditions of such a stream scale those instead of decoding JPEGs.
    public static func offersRawPictures(_ description: String) throws(PipelineError) -> Bool {
        try Pipeline(description: description, onSample: nil, onBusEvent: nil).rawSink != nil
    }

    /// Whether a source element opens a device (a camera, a capture card, a sound card): such a
    /// pipeline is validated but not run by `framecast check`.
    public static func opensDevice(_ description: String) throws(PipelineError) -> Bool {
        let pipeline = try Pipeline(description: description, onSample: nil, onBusEvent: nil)
        return fc_pipeline_opens_device(pipeline.element) != 0
    }

    /// Builds the pipeline and installs the handlers (appsink callbacks and bus sync handler are in
    /// place before the pipeline can ever reach PLAYING).
    public convenience init(
        description: String,
        onSample: @escaping SampleHandler,
        onBusEvent: @escaping BusEventHandler,
        onRawPicture: RawPictureHandler? = nil
    ) throws(PipelineError) {
        try self.init(description: description, onSample: .some(onSample), onBusEvent: .some(onBusEvent), onRawPicture: onRawPicture)
    }

    private init(
        description: String, onSample: SampleHandler?, onBusEvent: BusEventHandler?, onRawPicture: RawPictureHandler? = nil
    ) throws(PipelineError) {
        GStreamer.initialize()
        let trimmed = description.trimmingCharacters(in: .whitespacesAndNewlines)
        guard !trimmed.isEmpty else { throw .empty }
        self.description = trimmed

        let element = try Self.parse(trimmed)
        // From here on `element` is owned: release it on every error path.
        do throws(PipelineError) {
            let sinkElement = try Self.findSink(in: element)
            defer { gst_object_unref(UnsafeMutableRawPointer(sinkElement)) }
            guard let appSink = fc_as_app_sink(sinkElement) else {
                throw .sinkNotAppSink(Self.typeName(of: sinkElement))
            }
            try Self.checkJPEGOutput(into: sinkElement)
            Self.configure(appSink)
            // Keep a reference of our own for the appsink; the `defer` above drops the lookup's.
            gst_object_ref(UnsafeMutableRawPointer(appSink))
            self.appSink = appSink
        } catch {
            gst_object_unref(UnsafeMutableRawPointer(element))
            throw error
        }
        self.element = element
        self.appSource = Self.findAppSource(in: element)
        self.rawSink = Self.findRawSink(in: element)
        self.bus = gst_element_get_bus(element)

        if let onSample {
            var callbacks = GstAppSinkCallbacks()
            callbacks.new_sample = CallbackTrampolines.newSample
            gst_app_sink_set_callbacks(
                appSink, &callbacks, SampleBox(onSample).retainedPointer(), CallbackTrampolines.releaseSampleBox)
        }
        if let rawSink {
            // Without a handler the branch still runs: its sink must never hold the pipeline up.
            var callbacks = GstAppSinkCallbacks()
            if onRawPicture != nil { callbacks.new_sample = CallbackTrampolines.newRawPicture }
            let box = onRawPicture.map { RawPictureBox($0).retainedPointer() }
            gst_app_sink_set_callbacks(rawSink, &callbacks, box, box == nil ? nil : CallbackTrampolines.releaseRawPictureBox)
        }
        if let onBusEvent, let bus {
            gst_bus_set_sync_handler(
                bus, CallbackTrampolines.busSync, BusBox(onBusEvent).retainedPointer(), CallbackTrampolines.releaseBusBox)
        }
        Self.live.add(1, ordering: .releasing)
    }

    deinit {
        // Unconditionally, not through `stop()`: a pipeline must be in NULL before its last unref,
        // and this costs nothing when it already is. No other thread holds `self` any more.
        _ = gst_element_set_state(element, GST_STATE_NULL)
        if let bus {
            // Releases the bus handler's Swift context through its destroy notify.
            gst_bus_set_sync_handler(bus, nil, nil, nil)
            gst_object_unref(UnsafeMutableRawPointer(bus))
        }
        gst_object_unref(UnsafeMutableRawPointer(appSink))
        if let appSource { gst_object_unref(UnsafeMutableRawPointer(appSource)) }
        if let rawSink { gst_object_unref(UnsafeMutableRawPointer(rawSink)) }
        gst_object_unref(UnsafeMutableRawPointer(element))
        Self.live.subtract(1, ordering: .releasing)
    }

    /// Sets the pipeline to PLAYING. A synchronous failure (a device that cannot be opened, for
    /// one) throws; the element's own error also arrives on the bus. Throws, and starts nothing,
    /// once `stop()` has been called.
    public func play() throws(PipelineError) {
        let result = runState.withLock { state -> GstStateChangeReturn? in
            guard state != .stopped else { return nil }
            state = .playing
            return gst_element_set_state(element, GST_STATE_PLAYING)
        }
        guard let result else {
            throw .cannotStart("it was stopped, and a stopped pipeline is not restarted (build a new one)")
        }
        if result == GST_STATE_CHANGE_FAILURE {
            throw .cannotStart("an element refused to change to PLAYING (see the error that it posted)")
        }
    }

    /// Sets the pipeline to NULL: streaming threads are joined, devices closed. Blocking; after it
    /// returns no sample handler runs. Idempotent.
    public func stop() {
        runState.withLock { state in
            let wasPlaying = state == .playing
            state = .stopped
            if wasPlaying { _ = gst_element_set_state(element, GST_STATE_NULL) }
        }
    }

    // MARK: - Building

    private static func parse(_ description: String) throws(PipelineError) -> UnsafeMutablePointer<GstElement> {
        let context = gst_parse_context_new()
        defer { gst_parse_context_free(context) }
        var error: UnsafeMutablePointer<GError>?
        let parsed = gst_parse_launch_full(description, context, GST_PARSE_FLAG_FATAL_ERRORS, &error)

        if let error {
            defer { g_error_free(error) }
            let message = error.pointee.message.map { String(cString: $0) } ?? "unknown parse error"
            // A partial pipeline comes back floating: sink it so that the unref frees it.
            if let parsed { gst_object_unref(gst_object_ref_sink(UnsafeMutableRawPointer(parsed))) }
            guard error.pointee.domain == fc_parse_error_quark() else { throw .syntax(message) }
            switch error.pointee.code {
            case gint(GST_PARSE_ERROR_NO_SUCH_ELEMENT.rawValue):
                throw .missingElements(missingElements(context), message)
            case gint(GST_PARSE_ERROR_NO_SUCH_PROPERTY.rawValue), gint(GST_PARSE_ERROR_COULD_NOT_SET_PROPERTY.rawValue):
                throw .badProperty(message)
            case gint(GST_PARSE_ERROR_LINK.rawValue):
                throw .link(message)
            default:
                throw .syntax(message)
            }
        }
        guard let parsed else { throw .syntax("gst_parse_launch returned nothing") }
        // The parser returns a floating reference: sink it so that we own exactly one.
        return gst_object_ref_sink(UnsafeMutableRawPointer(parsed)).assumingMemoryBound(to: GstElement.self)
    }

    private static func missingElements(_ context: OpaquePointer?) -> [String] {
        guard let context, let list = gst_parse_context_get_missing_elements(context) else { return [] }
        defer { g_strfreev(list) }
        var names: [String] = []
        var index = 0
        while let name = list[index] {
            names.append(String(cString: name))
            index += 1
        }
        return names
    }

    /// Returns a new reference to the element named `sink` (the whole element when the
    /// description is a single element).
    private static func findSink(in element: UnsafeMutablePointer<GstElement>) throws(PipelineError) -> UnsafeMutablePointer<GstElement> {
        if fc_is_bin(element) != 0, let sink = gst_bin_get_by_name(fc_as_bin(element), "sink") {
            return sink
        }
        if let name = gst_object_get_name(UnsafeMutableRawPointer(element).assumingMemoryBound(to: GstObject.self)) {
            defer { g_free(name) }
            if String(cString: name) == "sink" {
                gst_object_ref(UnsafeMutableRawPointer(element))
                return element
            }
        }
        throw .noSink
    }

    /// A new reference to the appsrc named `src`, if the pipeline has one.
    private static func findAppSource(in element: UnsafeMutablePointer<GstElement>) -> UnsafeMutablePointer<GstAppSrc>? {
        guard fc_is_bin(element) != 0, let found = gst_bin_get_by_name(fc_as_bin(element), "src") else { return nil }
        guard let appSource = fc_as_app_src(found) else {
            gst_object_unref(UnsafeMutableRawPointer(found))
            return nil
        }
        return appSource
    }

    /// A new reference to the appsink named `raw`, if the pipeline has one, set to hold one
    /// picture and drop older ones (the raw branch never slows the JPEG branch). Its caps are left
    /// alone: forcing I420 would make a YUY2 or NV12 source fail to negotiate, the stream with it;
    /// a picture in another format is simply not offered (renditions decode the JPEGs instead).
    private static func findRawSink(in element: UnsafeMutablePointer<GstElement>) -> UnsafeMutablePointer<GstAppSink>? {
        guard fc_is_bin(element) != 0, let found = gst_bin_get_by_name(fc_as_bin(element), "raw") else { return nil }
        guard let sink = fc_as_app_sink(found) else {
            gst_object_unref(UnsafeMutableRawPointer(found))
            return nil
        }
        gst_app_sink_set_max_buffers(sink, 1)
        gst_app_sink_set_drop(sink, 1)
        fc_raw_sink_configure(sink)
        return sink
    }

    /// Asks what the element upstream of the sink can produce. When it cannot produce JPEG at all
    /// (raw video, say), that is a startup error. Sources with dynamic pads are not linked yet and
    /// are checked when they negotiate (the appsink only accepts image/jpeg).
    private static func checkJPEGOutput(into sink: UnsafeMutablePointer<GstElement>) throws(PipelineError) {
        guard let pad = gst_element_get_static_pad(sink, "sink") else { return }
        defer { gst_object_unref(UnsafeMutableRawPointer(pad)) }
        guard gst_pad_is_linked(pad) != 0, let offered = gst_pad_peer_query_caps(pad, nil) else { return }
        defer { gst_caps_unref(offered) }
        guard let jpeg = gst_caps_from_string("image/jpeg") else { return }
        defer { gst_caps_unref(jpeg) }
        if gst_caps_can_intersect(offered, jpeg) == 0 {
            throw .notJPEG(capsSummary(offered))
        }
    }

    /// The media types in a caps set, without their long field lists ("video/x-raw").
    private static func capsSummary(_ caps: UnsafeMutablePointer<GstCaps>) -> String {
        let count = gst_caps_get_size(caps)
        guard count > 0 else { return "nothing (the element upstream offers no format)" }
        var names: [String] = []
        for index in 0..<count {
            if let structure = gst_caps_get_structure(caps, index), let name = gst_structure_get_name(structure) {
                let text = String(cString: name)
                if !names.contains(text) { names.append(text) }
            }
        }
        return names.joined(separator: ", ")
    }

    /// Holds at most one sample and drops older ones, so a late pull never returns a stale frame and
    /// the pipeline never waits for us. Only JPEG is accepted unless the user set caps themselves.
    private static func configure(_ appSink: UnsafeMutablePointer<GstAppSink>) {
        gst_app_sink_set_max_buffers(appSink, 1)
        gst_app_sink_set_drop(appSink, 1)
        if let current = gst_app_sink_get_caps(appSink) {
            gst_caps_unref(current)
        } else if let jpeg = gst_caps_from_string("image/jpeg") {
            gst_app_sink_set_caps(appSink, jpeg)
            gst_caps_unref(jpeg)
        }
    }

    private static func typeName(of element: UnsafeMutablePointer<GstElement>) -> String {
        guard let factory = gst_element_get_factory(element),
            let name = gst_object_get_name(UnsafeMutableRawPointer(factory).assumingMemoryBound(to: GstObject.self))
        else { return "element" }
        defer { g_free(name) }
        return String(cString: name)
    }
}
