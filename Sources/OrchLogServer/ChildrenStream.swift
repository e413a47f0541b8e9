import OrchLogStore
import OrchLogWire

/// StreamChildren: a parent's children after a seq, from the database page by page, then (with
/// `follow`) from the change feed as they commit.
///
/// The feed subscription is taken before the first database read, so nothing committed in
/// between is missed; records are sent only if their seq is above the last one sent, so nothing
/// is repeated. When the feed's mailbox overflows the stream reads the database again.
// @unchecked: confined to the connection's queue; reader completions hop back onto it.
final class ChildrenStream: ResponseStream, @unchecked Sendable {
    private enum Source {
        /// Reading pages from the database after `cursor`.
        case database(exhausted: Bool)
        /// Caught up; taking committed children from the feed.
        case feed
    }

    private let connection: ServerConnection
    private let call: ServerCall
    private let parentID: String?
    /// The seq of the last child sent.
    private var cursor: UInt64
    /// The highest seq read from the database into `ready`; the next page starts after it.
    private var fetchedThrough: UInt64
    private var remaining: UInt32?
    let isFollowing: Bool
    private var source = Source.database(exhausted: false)
    private var ready: [EncodedEntry] = []
    private var readyIndex = 0
    /// Bytes of the entries in `ready` not sent yet.
    private var readyBytes = 0
    private var fetching = false
    private var subscription: FeedSubscription?

    init(connection: ServerConnection, call: ServerCall, request: Orchlog_V1_StreamChildrenRequest) throws(RPCStatus) {
        self.connection = connection
        self.call = call
        self.parentID = request.hasParentExecID
            ? try canonicalID(request.parentExecID, field: "parent_exec_id") : nil
        self.cursor = request.afterSeq
        self.fetchedThrough = request.afterSeq
        self.remaining = request.limit == 0 ? nil : request.limit
        self.isFollowing = request.follow
    }

    func start() {
        if self.isFollowing {
            // Made once: a commit's wakeup of each follower then allocates nothing.
            let loop = self.connection.loop
            let pumpOnLoop: @Sendable () -> Void = { [weak self] in self?.pump() }
            self.subscription = self.connection.store.feed.subscribe(parentID: self.parentID) {
                loop.execute(pumpOnLoop)
            }
        }
        self.fetch(checkParent: self.parentID != nil)
    }

    func stop() {
        if let subscription {
            self.connection.store.feed.unsubscribe(subscription)
            self.subscription = nil
        }
    }

    func pump() {
        while self.call.isOpen {
            if case .database(exhausted: false) = self.source, !self.fetching,
               self.connection.shouldReadAhead(self.call, buffered: self.ready.count - self.readyIndex, bytes: self.readyBytes)
            {
                self.fetch(checkParent: false)
            }
            if self.readyIndex < self.ready.count {
                guard self.connection.canSend(self.call) else { return }
                let entry = self.ready[self.readyIndex]
                self.readyIndex += 1
                self.readyBytes -= entry.bytes.count
                self.cursor = entry.seq
                // Only a row another tool stored can be too large; the client needs its seq to go on.
                self.connection.send(
                    self.call, payload: entry.bytes,
                    hint: "the entry with seq \(entry.seq), which a StreamChildren with after_seq \(entry.seq) skips"
                )
                if let remaining {
                    self.remaining = remaining - 1
                    if remaining == 1 {
                        self.connection.finish(self.call, .ok)
                        return
                    }
                }
                continue
            }
            self.ready = []
            self.readyIndex = 0
            self.readyBytes = 0
            switch self.source {
            case .database(exhausted: false):
                return  // the page being read calls pump again
            case .database(exhausted: true):
                guard self.isFollowing else {
                    self.connection.finish(self.call, .ok)
                    return
                }
                self.source = .feed
            case .feed:
                guard let subscription else { return }
                switch subscription.take() {
                case .entries(let entries):
                    if entries.isEmpty { return }
                    // The feed repeats what the database pages already gave only just after the
                    // switch; usually every entry is new and the array is kept as it is.
                    let cursor = self.cursor
                    self.ready = entries[0].seq > cursor ? entries : entries.filter { $0.seq > cursor }
                    self.readyBytes = self.ready.reduce(0) { $0 + $1.bytes.count }
                case .overflowed:
                    self.source = .database(exhausted: false)
                    self.fetchedThrough = self.cursor
                }
            }
        }
    }

    private func fetch(checkParent: Bool) {
        self.fetching = true
        let parentID = self.parentID
        let after = self.fetchedThrough
        let pageSize = self.connection.configuration.streamPageSize
        let pageBytes = self.connection.configuration.streamPageBytes
        let loop = self.connection.loop
        self.connection.store.read({ reader throws(RPCStatus) in
            if checkParent, let parentID, try reader.entry(id: parentID) == nil {
                throw .notFound("parent_exec_id: entry \(parentID) not found")
            }
            let page = try reader.children(of: parentID, afterSeq: after, limit: pageSize, maxBytes: pageBytes)
            // Encoded here, so that the connection's queue only copies bytes.
            return (entries: page.rows.map(EncodedEntry.init), isLast: page.isLast)
        }, completion: { result in
            loop.execute {
                self.fetching = false
                guard self.call.isOpen else { return }
                switch result {
                case .success(let page):
                    let fresh = page.entries.filter { $0.seq > self.fetchedThrough }
                    self.ready.removeSubrange(0..<self.readyIndex)
                    self.readyIndex = 0
                    self.ready.append(contentsOf: fresh)
                    self.readyBytes += fresh.reduce(0) { $0 + $1.bytes.count }
                    self.fetchedThrough = max(self.fetchedThrough, page.entries.last?.seq ?? 0)
                    self.source = .database(exhausted: page.isLast)
                    self.pump()
                case .failure(let status):
                    self.connection.finish(self.call, status)
                }
            }
        })
    }
}
