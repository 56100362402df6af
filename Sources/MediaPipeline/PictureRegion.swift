// Imports nothing: compiled into the `rendition_request` fuzz target too (see Fuzz/run.sh).

/// A rectangle of a picture, in that picture's pixels.
public struct PictureRegion: Sendable, Hashable, Codable, CustomStringConvertible {
    public var x: Int
    public var y: Int
    public var width: Int
    public var height: Int

    public init(x: Int, y: Int, width: Int, height: Int) {
        self.x = x
        self.y = y
        self.width = width
        self.height = height
    }

    /// "X,Y,W,H", the form of `?crop=`.
    public var description: String { "\(x),\(y),\(width),\(height)" }
}
