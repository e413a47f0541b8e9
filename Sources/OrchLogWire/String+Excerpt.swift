extension String {
    /// The start of the text, at most `maxBytes` bytes of UTF-8, cut between Unicode scalars: for
    /// quoting text a peer sent in an error message, whose size then has a bound. (`prefix(_:)`
    /// counts Characters, and one Character can be any number of bytes.)
    package func excerpt(maxBytes: Int) -> String {
        guard self.utf8.count > maxBytes else { return self }
        var bytes = 0
        var end = self.unicodeScalars.startIndex
        for scalar in self.unicodeScalars {
            bytes += UTF8.width(scalar)
            if bytes > maxBytes { break }
            end = self.unicodeScalars.index(after: end)
        }
        return String(self.unicodeScalars[..<end])
    }
}
