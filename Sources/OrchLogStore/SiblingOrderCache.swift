/// The highest `sibling_order` among the children of recently appended-to parents, as the writer
/// last knew it, so that an append without an order runs one statement (the INSERT) instead of
/// two. Only the writer changes the table while the cache is valid: the writer empties it when
/// another connection has committed, and when a transaction or savepoint rolls back.
struct SiblingOrderCache {
    /// Parents remembered at most; past it the cache starts over (appends go to few parents at a
    /// time, so this is rarely reached).
    private static let capacity = 10_000
    private var highest: [String?: Int64] = [:]

    /// The highest order among `parent`'s children (0 when none has one), if known.
    func highest(amongChildrenOf parent: String?) -> Int64? {
        self.highest[parent]
    }

    /// Remembers what the table says is the highest order among `parent`'s children.
    mutating func learn(_ highest: Int64, amongChildrenOf parent: String?) {
        if self.highest.count >= Self.capacity { self.highest.removeAll(keepingCapacity: true) }
        self.highest[parent] = highest
    }

    /// A child of `parent` was inserted with `order`: a known highest moves up to it.
    mutating func inserted(_ order: Int64, childOf parent: String?) {
        if let known = self.highest[parent], order > known { self.highest[parent] = order }
    }

    mutating func forgetAll() {
        self.highest.removeAll(keepingCapacity: true)
    }
}
