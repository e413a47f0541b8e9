import OrchLogWire

/// Hands committed entries to the followers of their parent.
///
/// The writer publishes after each COMMIT, in seq order. Each subscription buffers what it has
/// not taken yet up to a bound; past the bound it drops the buffer and marks itself overflowed,
/// and its follower reads from the database after its own cursor instead. A slow follower is
/// therefore never dropped and never holds unbounded memory.
package final class ChangeFeed: Sendable {
    private let subscriptions = Locked<[String: [Int: FeedSubscription]]>([:])
    private let ids = Counter()
    private let maxBufferedRecords: Int
    private let maxBufferedBytes: Int

    package init(maxBufferedRecords: Int = 1024, maxBufferedBytes: Int = 1 << 20) {
        self.maxBufferedRecords = maxBufferedRecords
        self.maxBufferedBytes = maxBufferedBytes
    }

    /// Follows the children of `parentID` (`nil`: the roots). `onAvailable` is called, from the
    /// writer's queue, when something new can be taken and was not signalled before.
    package func subscribe(parentID: String?, onAvailable: @escaping @Sendable () -> Void) -> FeedSubscription {
        let subscription = FeedSubscription(
            id: self.ids.next(), key: Self.key(parentID), maxRecords: self.maxBufferedRecords,
            maxBytes: self.maxBufferedBytes, onAvailable: onAvailable
        )
        self.subscriptions.withLock { $0[subscription.key, default: [:]][subscription.id] = subscription }
        return subscription
    }

    package func unsubscribe(_ subscription: FeedSubscription) {
        self.subscriptions.withLock { all in
            all[subscription.key]?[subscription.id] = nil
            if all[subscription.key]?.isEmpty == true { all[subscription.key] = nil }
        }
    }

    /// How many followers are subscribed.
    package var subscriberCount: Int {
        self.subscriptions.withLock { $0.values.reduce(0) { $0 + $1.count } }
    }

    /// Offers newly committed records (in seq order) to their parents' followers. A record is
    /// encoded once, however many follow its parent, and not at all if none does.
    func publish(_ records: [LogRecord]) {
        let followers = self.subscriptions.withLock { all -> [String: [FeedSubscription]] in
            var found: [String: [FeedSubscription]] = [:]
            guard !all.isEmpty else { return found }
            for record in records {
                let key = Self.key(record.parentID)
                if found[key] == nil, let subscribers = all[key] { found[key] = Array(subscribers.values) }
            }
            return found
        }
        guard !followers.isEmpty else { return }
        var entries: [String: [EncodedEntry]] = [:]
        for record in records where followers[Self.key(record.parentID)] != nil {
            entries[Self.key(record.parentID), default: []].append(EncodedEntry(record))
        }
        for (key, group) in entries {
            for subscription in followers[key] ?? [] { subscription.offer(group) }
        }
    }

    /// Sends every follower back to the database: rows appeared that did not come through this
    /// feed (another process wrote to the file), possibly below seqs already delivered.
    func resynchronizeAll() {
        let all = self.subscriptions.withLock { $0.values.flatMap(\.values) }
        for subscription in all { subscription.invalidate() }
    }

    /// Roots are keyed by the empty string, which no canonical id can be.
    private static func key(_ parentID: String?) -> String { parentID ?? "" }
}

/// One follower's mailbox in the `ChangeFeed`.
package final class FeedSubscription: Sendable {
    /// What a follower takes from its mailbox.
    package enum Delivery: Sendable, Equatable {
        /// Committed children in seq order (possibly none), encoded.
        case entries([EncodedEntry])
        /// The mailbox overflowed and was emptied: read from the database after your cursor.
        case overflowed
    }

    private struct Mailbox {
        var entries: [EncodedEntry] = []
        var bytes = 0
        var overflowed = false
        var signalled = false
    }

    let id: Int
    let key: String
    private let maxRecords: Int
    private let maxBytes: Int
    private let mailbox = Locked(Mailbox())
    private let onAvailable: @Sendable () -> Void

    init(id: Int, key: String, maxRecords: Int, maxBytes: Int, onAvailable: @escaping @Sendable () -> Void) {
        self.id = id
        self.key = key
        self.maxRecords = maxRecords
        self.maxBytes = maxBytes
        self.onAvailable = onAvailable
    }

    func offer(_ entries: [EncodedEntry]) {
        let signal = self.mailbox.withLock { box -> Bool in
            if !box.overflowed {
                let bytes = entries.reduce(0) { $0 + $1.bytes.count }
                if box.entries.count + entries.count > self.maxRecords || box.bytes + bytes > self.maxBytes {
                    box.overflowed = true
                    box.entries = []
                    box.bytes = 0
                } else {
                    // An empty mailbox (the usual case: the follower took the last offer) shares
                    // the published array instead of copying it into new storage.
                    if box.entries.isEmpty { box.entries = entries } else { box.entries += entries }
                    box.bytes += bytes
                }
            }
            defer { box.signalled = true }
            return !box.signalled
        }
        if signal { self.onAvailable() }
    }

    /// Drops what is buffered and reports `.overflowed` on the next take.
    func invalidate() {
        let signal = self.mailbox.withLock { box -> Bool in
            box.overflowed = true
            box.entries = []
            box.bytes = 0
            defer { box.signalled = true }
            return !box.signalled
        }
        if signal { self.onAvailable() }
    }

    /// Empties the mailbox; the next offer signals again.
    package func take() -> Delivery {
        self.mailbox.withLock { box in
            box.signalled = false
            defer {
                box.entries = []
                box.bytes = 0
                box.overflowed = false
            }
            return box.overflowed ? .overflowed : .entries(box.entries)
        }
    }
}
