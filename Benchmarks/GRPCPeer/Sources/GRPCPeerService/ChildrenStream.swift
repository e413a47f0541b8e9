import GRPCCore
import OrchLogStore
import OrchLogWire

/// StreamChildren, as orchlogd's ChildrenStream does it: a parent's children after a seq, from
/// the database page by page, then (with `follow`) from the change feed as they commit.
///
/// The feed subscription is taken before the first database read, so nothing committed in
/// between is missed; a record is sent only if its seq is above the last one sent, so nothing is
/// repeated. Memory stays bounded: at most one page is held, the feed's mailbox is bounded by
/// the store, and when it overflows the stream reads the database again after its cursor.
/// Backpressure is grpc-swift's: `writer.write` suspends until the transport takes the messages.
enum ChildrenStream {
    private enum Source {
        /// Reading pages from the database after the cursor.
        case database(exhausted: Bool)
        /// Caught up; taking committed children from the feed.
        case feed
    }

    /// Validates the request, subscribes (follow), reads the first page (NOT_FOUND for an unknown
    /// parent is a plain rejection, before any response headers), then streams.
    static func response(
        to request: Orchlog_V1_StreamChildrenRequest, service: OrchLogGRPCService, context: ServerContext
    ) async throws(RPCError) -> StreamingServerResponse<[UInt8]> {
        let parentID: String? = request.hasParentExecID
            ? try mapped { () throws(RPCStatus) in try canonicalID(request.parentExecID, field: "parent_exec_id") }
            : nil
        let store = service.store
        let pageSize = service.streamPageSize
        let follower = request.follow ? try Follower(store: store, parentID: parentID, drain: service.drain) : nil
        let afterSeq = request.afterSeq
        let first = try await store.read { reader throws(RPCStatus) in
            if let parentID, try reader.entry(id: parentID) == nil {
                throw .notFound("parent_exec_id: entry \(parentID) not found")
            }
            return try reader.children(of: parentID, afterSeq: afterSeq, limit: pageSize).map(EncodedEntry.init)
        }
        let limit = request.limit == 0 ? nil : Int(request.limit)

        return StreamingServerResponse { writer in
            defer { follower?.close() }
            // grpc-swift reports a client's RST_STREAM, a deadline and shutdown only through
            // this handle, not by cancelling the task: wake a waiting follower so it can see it.
            try await withRPCCancellationHandler {
                var cursor = afterSeq
                var remaining = limit
                var ready = first
                var source = Source.database(exhausted: first.count < pageSize)
                while true {
                    try check(context, follower)
                    var batch = ready.filter { $0.seq > cursor }
                    ready = []
                    if let left = remaining, batch.count >= left { batch.removeLast(batch.count - left) }
                    if let last = batch.last {
                        try await writer.write(contentsOf: batch.map(\.bytes))
                        cursor = last.seq
                        if let left = remaining {
                            remaining = left - batch.count
                            if remaining == 0 { return }
                        }
                    }
                    switch source {
                    case .database(exhausted: false):
                        let after = cursor
                        ready = try await store.read { reader throws(RPCStatus) in
                            try reader.children(of: parentID, afterSeq: after, limit: pageSize).map(EncodedEntry.init)
                        }
                        source = .database(exhausted: ready.count < pageSize)
                    case .database(exhausted: true):
                        guard follower != nil else { return }
                        source = .feed
                    case .feed:
                        guard let follower else { return }
                        switch follower.subscription.take() {
                        case .entries(let entries):
                            if entries.isEmpty {
                                await follower.wakeUp.wait()
                            } else {
                                ready = entries
                            }
                        case .overflowed:
                            source = .database(exhausted: false)
                        }
                    }
                }
            } onCancelRPC: {
                follower?.wakeUp.signal()
            }
            return [:]
        }
    }

    /// Ends the stream if the server drains (follow streams only, UNAVAILABLE as in orchlogd) or
    /// the RPC was cancelled.
    private static func check(_ context: ServerContext, _ follower: Follower?) throws(RPCError) {
        if let follower, follower.drain.isDraining { throw Drain.shuttingDown }
        if context.cancellation.isCancelled || Task.isCancelled {
            throw RPCError(code: .cancelled, message: "cancelled by the client")
        }
    }
}

/// A follow stream's feed subscription and wake-up, registered for drain. Released on `close`
/// or, if the response is dropped before it ever ran, on deinit.
final class Follower: Sendable {
    let subscription: FeedSubscription
    let wakeUp: WakeUp
    let drain: Drain
    private let feed: ChangeFeed
    private let drainID: Int

    init(store: LogStore, parentID: String?, drain: Drain) throws(RPCError) {
        let wakeUp = WakeUp()
        guard let drainID = drain.register(wakeUp) else { throw Drain.shuttingDown }
        self.wakeUp = wakeUp
        self.drain = drain
        self.drainID = drainID
        self.feed = store.feed
        self.subscription = store.feed.subscribe(parentID: parentID) { wakeUp.signal() }
    }

    func close() {
        self.feed.unsubscribe(self.subscription)
        self.drain.unregister(self.drainID)
    }

    deinit { self.close() }
}
