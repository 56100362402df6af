// Framecast's window onto GStreamer. Only the MediaPipeline target imports this module.
//
// Each `fc_` function below stands in for a C macro or a type check that Swift's importer
// cannot see (cast macros, GST_IS_* checks, field-access macros). Everything else is
// called directly from Swift.
#ifndef FRAMECAST_CGST_SHIM_H
#define FRAMECAST_CGST_SHIM_H

#include <gst/gst.h>
#include <gst/app/gstappsink.h>
#include <gst/app/gstappsrc.h>
#include <gst/video/video.h>

// GST_IS_BIN is a type-check macro: Swift needs it to tell a one-element description
// (which gst_parse_launch returns bare) from a pipeline.
static inline gboolean fc_is_bin(GstElement *element) {
    return GST_IS_BIN(element);
}

// GST_BIN is a cast macro.
static inline GstBin *fc_as_bin(GstElement *element) {
    return GST_BIN(element);
}

// GST_IS_APP_SINK + GST_APP_SINK: returns NULL when the element named "sink" is not an appsink,
// so the caller can say so instead of crashing in a type-checked call.
static inline GstAppSink *fc_as_app_sink(GstElement *element) {
    return GST_IS_APP_SINK(element) ? GST_APP_SINK(element) : NULL;
}

// GST_IS_APP_SRC + GST_APP_SRC: the element named "src" of a rendition's pipeline, or NULL.
static inline GstAppSrc *fc_as_app_src(GstElement *element) {
    return GST_IS_APP_SRC(element) ? GST_APP_SRC(element) : NULL;
}

// GST_VIDEO_FRAME_PLANE_DATA / _STRIDE / _WIDTH / _HEIGHT are field macros over a mapped frame.
static inline const guint8 *fc_video_frame_plane(const GstVideoFrame *frame, guint plane) {
    return (const guint8 *)GST_VIDEO_FRAME_PLANE_DATA(frame, plane);
}
static inline gint fc_video_frame_stride(const GstVideoFrame *frame, guint plane) {
    return GST_VIDEO_FRAME_PLANE_STRIDE(frame, plane);
}
static inline gint fc_video_frame_width(const GstVideoFrame *frame) { return GST_VIDEO_FRAME_WIDTH(frame); }
static inline gint fc_video_frame_height(const GstVideoFrame *frame) { return GST_VIDEO_FRAME_HEIGHT(frame); }
static inline gboolean fc_video_frame_is_i420(const GstVideoFrame *frame) {
    return GST_VIDEO_FRAME_FORMAT(frame) == GST_VIDEO_FORMAT_I420;
}

// GST_BASE_SINK is a cast macro. The `raw` appsink is a side branch of a tee: it must never wait
// for the clock (that would hold the JPEG branch) nor keep its last picture alive.
static inline void fc_raw_sink_configure(GstAppSink *sink) {
    gst_base_sink_set_sync(GST_BASE_SINK(sink), FALSE);
    gst_base_sink_set_last_sample_enabled(GST_BASE_SINK(sink), FALSE);
}

// GST_MESSAGE_SRC is a field macro and the source may be NULL; the path string
// ("/GstPipeline:pipeline0/GstIdentity:identity0") is what an error report needs.
// The caller frees the result with g_free.
static inline gchar *fc_message_source_path(GstMessage *message) {
    GstObject *source = GST_MESSAGE_SRC(message);
    return source ? gst_object_get_path_string(source) : NULL;
}

// GST_PARSE_ERROR is a macro around a quark function.
static inline GQuark fc_parse_error_quark(void) {
    return GST_PARSE_ERROR;
}

// Whether any source element of the pipeline opens a device (v4l2src, alsasrc, libcamerasrc,
// decklink...): such a pipeline is not started by `framecast check`. Iterating a bin needs
// GValue and G_OBJECT_GET_CLASS, both macros, so the loop lives here.
static inline gboolean fc_pipeline_opens_device(GstElement *element) {
    static const char *const device_properties[] = { "device", "device-number", "camera-name", NULL };
    if (!GST_IS_BIN(element)) {
        for (int i = 0; device_properties[i]; i++)
            if (g_object_class_find_property(G_OBJECT_GET_CLASS(element), device_properties[i])) return TRUE;
        return FALSE;
    }
    gboolean found = FALSE;
    GstIterator *iterator = gst_bin_iterate_sources(GST_BIN(element));
    GValue item = G_VALUE_INIT;
    gboolean done = FALSE;
    while (!done && !found) {
        switch (gst_iterator_next(iterator, &item)) {
        case GST_ITERATOR_OK: {
            GObject *child = g_value_get_object(&item);
            for (int i = 0; device_properties[i] && !found; i++)
                if (g_object_class_find_property(G_OBJECT_GET_CLASS(child), device_properties[i])) found = TRUE;
            g_value_reset(&item);
            break;
        }
        case GST_ITERATOR_RESYNC:
            gst_iterator_resync(iterator);
            break;
        default:
            done = TRUE;
            break;
        }
    }
    g_value_unset(&item);
    gst_iterator_free(iterator);
    return found;
}

#endif
