// Imports MediaPipeline only for PictureRegion: the fuzz targets that compile StreamStatus.swift
// compile this file and PictureRegion.swift beside it (see Fuzz/run.sh).
#if canImport(MediaPipeline)
public import MediaPipeline
#endif

/// A live rendition in `/api/streams`.
public struct RenditionStatus: Sendable, Codable, Equatable {
    /// Its stream name, `NAME@WxHqQ[cX,Y,W,H]` (what its frames and the wall carry).
    public var stream: String
    /// The `--rendition` name it is served under, if any.
    public var name: String?
    public var width: Int
    public var height: Int
    public var quality: Int
    public var crop: PictureRegion?
    /// What its last picture was made from: `raw` (the source's raw pictures, shrunk; no decode)
    /// or `jpeg` (the source's JPEGs, decoded at a reduced scale); nil before the first.
    public var input: String?
    public var state: StreamState
    public var clients: Int
    /// Frames per second it encodes (its source's rate, less what its encoder skips).
    public var fps: Double
    /// Decode, scale and encode of one frame, recent average.
    public var encodeMilliseconds: Double?
    public var framesPublished: UInt64
    /// Source frames it skipped because its encoder was still busy.
    public var sourceFramesSkipped: UInt64
    public var lastError: String?
}
