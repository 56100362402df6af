extension Double {
    /// "5" for whole numbers, "2.5" otherwise.
    func formatted() -> String {
        self == rounded() && abs(self) < 1e15 ? String(Int64(self)) : String(self)
    }
}
