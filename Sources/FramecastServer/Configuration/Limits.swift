/// Every number Framecast takes from outside, with its range: one table, so a flag, a query
/// parameter and the tests that feed each one hostile values all read the same bounds.
public enum Limits {
    // Query parameters.
    /// `?fps=`: from one frame in about 17 minutes to 1000 a second.
    public static let fps = BoundedNumber("fps", 0.001...1000)
    /// `?max_age=` of snapshots, in milliseconds: up to a day.
    public static let maxAge = BoundedNumber.whole("max_age", 0...86_400_000, unit: "milliseconds")
    /// `?width=` and `?height=` of a rendition, in pixels: anything above the source is served at
    /// the source's size (no upscaling); above 16384 is no picture size.
    public static let renditionWidth = BoundedNumber.whole("width", 1...16384, unit: "pixels")
    public static let renditionHeight = BoundedNumber.whole("height", 1...16384, unit: "pixels")
    /// `?quality=`: jpegenc's range.
    public static let renditionQuality = BoundedNumber.whole("quality", 1...100)
    /// Each number of `?crop=X,Y,W,H`, in source pixels.
    public static let cropCoordinate = BoundedNumber.whole("crop", 0...65535, unit: "pixels")

    // Command-line flags.
    public static let port = BoundedNumber.whole("--port", 0...65535)
    /// Up to a week; 0 stops the pipeline as soon as the last client leaves.
    public static let idleTimeout = BoundedNumber("--idle-timeout", 0...604_800, unit: "seconds")
    public static let frameTimeout = BoundedNumber("--frame-timeout", 0.1...3600, unit: "seconds")
    /// Up to a day.
    public static let clientTimeout = BoundedNumber("--client-timeout", 0.1...86_400, unit: "seconds")
    public static let headerTimeout = BoundedNumber("--header-timeout", 0.1...3600, unit: "seconds")
    public static let maxClients = BoundedNumber.whole("--max-clients", 1...100_000)
    public static let warmupFrames = BoundedNumber.whole("--warmup-frames", 0...10_000)
    /// Renditions of one stream alive at once.
    public static let maxRenditions = BoundedNumber.whole("--max-renditions", 0...64)
    /// `--exit-when-idle`: from a second to a week.
    public static let exitWhenIdle = BoundedNumber("--exit-when-idle", 1...604_800, unit: "seconds")
    /// `--redirect-http`: a plain-HTTP port that redirects to HTTPS.
    public static let redirectHTTP = BoundedNumber.whole("--redirect-http", 1...65535)
    /// `--hsts`: up to two years (what browsers' preload lists ask for).
    public static let hsts = BoundedNumber.whole("--hsts", 0...63_072_000, unit: "seconds")
    /// `--tls-check-interval`: from a second to a day.
    public static let tlsCheckInterval = BoundedNumber("--tls-check-interval", 1...86_400, unit: "seconds")
    /// `--relay-all-interval`: from a second to an hour.
    public static let relayAllInterval = BoundedNumber("--relay-all-interval", 1...3600, unit: "seconds")
    /// `framecast check --timeout`.
    public static let checkTimeout = BoundedNumber("--timeout", 0.1...3600, unit: "seconds")

    /// Every query parameter and flag, for tests and documentation.
    public static let all: [BoundedNumber] = [
        fps, maxAge, renditionWidth, renditionHeight, renditionQuality, cropCoordinate,
        port, idleTimeout, frameTimeout, clientTimeout, headerTimeout, maxClients, warmupFrames, maxRenditions, exitWhenIdle, checkTimeout,
        redirectHTTP, hsts, tlsCheckInterval, relayAllInterval,
    ]
}
