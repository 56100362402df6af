/// Pipelines that need no file, so Framecast runs on a headless machine with no camera.
public enum BuiltInPipelines {
    /// A moving test pattern with a running-time overlay, 1280x720 at 30 fps, JPEG quality 85
    /// (the same as pipelines/test.pipeline).
    public static let testPattern =
        "videotestsrc is-live=true pattern=smpte horizontal-speed=4 "
        + "! video/x-raw,width=1280,height=720,framerate=30/1 "
        + "! timeoverlay halignment=right valignment=bottom font-desc=\"Sans 28\" "
        + "! jpegenc quality=85 ! appsink name=sink"
}
