/// Pipelines that need no file, so Framecast runs on a headless machine with no camera.
public enum BuiltInPipelines {
    /// A moving test pattern with a running-time overlay, 1280x720 at 30 fps, JPEG quality 85 by
    /// default (the same as pipelines/test.pipeline); `--set WIDTH=… HEIGHT=… FPS=… QUALITY=…` tune it.
    public static let testPattern =
        "videotestsrc is-live=true pattern=smpte horizontal-speed=4 "
        + "! video/x-raw,width=${WIDTH:-1280},height=${HEIGHT:-720},framerate=${FPS:-30}/1 "
        + "! timeoverlay halignment=right valignment=bottom font-desc=\"Sans 28\" "
        + "! jpegenc quality=${QUALITY:-85} ! appsink name=sink"
}
