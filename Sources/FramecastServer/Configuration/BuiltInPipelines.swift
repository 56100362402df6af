/// Pipelines that need no file, so Framecast runs on a headless machine with no camera.
public enum BuiltInPipelines {
    /// A moving test pattern with a running-time overlay, 1280x720 at 30 fps, JPEG quality 85 by
    /// default (the same as pipelines/test.pipeline); `--set WIDTH=… HEIGHT=… FPS=… QUALITY=…` tune it.
    /// Its raw pictures go to renditions too (the `tee` to `appsink name=raw`; a tee needs a queue
    /// on each branch, and a leaky one-picture queue never lets a slow encoder pile pictures up).
    public static let testPattern =
        "videotestsrc is-live=true pattern=smpte horizontal-speed=4 "
        + "! video/x-raw,format=I420,width=${WIDTH:-1280},height=${HEIGHT:-720},framerate=${FPS:-30}/1 "
        + "! timeoverlay halignment=right valignment=bottom font-desc=\"Sans 28\" "
        + "! tee name=picture ! queue max-size-buffers=1 leaky=downstream ! jpegenc quality=${QUALITY:-85} ! appsink name=sink "
        + "picture. ! queue max-size-buffers=1 leaky=downstream ! appsink name=raw"
}
