import OrchLogStore
import OrchLogWire

/// GetTree: the subtree under a root in depth-first preorder, read a page at a time by a
/// `TreeWalker` on a reader while the call has credit and the connection is writable.
// @unchecked: confined to the connection's queue; reader completions hop back onto it.
final class TreeStream: ResponseStream, @unchecked Sendable {
    private let connection: ServerConnection
    private let call: ServerCall
    private let rootID: String
    private let maxDepth: UInt32
    private var walker: TreeWalker?
    /// Encoded `TreeNode`s read and not sent yet.
    private var ready: [[UInt8]] = []
    private var readyIndex = 0
    /// Bytes of the nodes in `ready` not sent yet.
    private var readyBytes = 0
    private var fetching = false
    let isFollowing = false

    init(connection: ServerConnection, call: ServerCall, request: Orchlog_V1_GetTreeRequest) throws(RPCStatus) {
        self.connection = connection
        self.call = call
        self.rootID = try canonicalID(request.hasRootID ? request.rootID : nil, field: "root_id")
        self.maxDepth = request.maxDepth
    }

    func start() { self.fetch() }

    func stop() {}

    func pump() {
        while self.call.isOpen {
            if !self.fetching && self.walker?.isFinished != true
                && self.connection.shouldReadAhead(self.call, buffered: self.ready.count - self.readyIndex, bytes: self.readyBytes)
            {
                self.fetch()
            }
            if self.readyIndex < self.ready.count {
                guard self.connection.canSend(self.call) else { return }
                let node = self.ready[self.readyIndex]
                self.readyIndex += 1
                self.readyBytes -= node.count
                self.connection.send(self.call, payload: node)
                continue
            }
            if self.walker?.isFinished == true && !self.fetching {
                self.connection.finish(self.call, .ok)
            }
            return
        }
    }

    private func fetch() {
        self.fetching = true
        // Handed over, not shared, so that the walk changes its stack in place.
        let walker = self.walker
        self.walker = nil
        let rootID = self.rootID
        let maxDepth = self.maxDepth
        let pageSize = self.connection.configuration.streamPageSize
        let pageBytes = self.connection.configuration.streamPageBytes
        let loop = self.connection.loop
        self.connection.store.read({ reader throws(RPCStatus) in
            var walker = walker
            if walker == nil {
                guard let root = try reader.entry(id: rootID) else {
                    throw .notFound("root_id: entry \(rootID) not found")
                }
                walker = TreeWalker(root: root, maxDepth: maxDepth, pageBytes: pageBytes)
            }
            // One snapshot per page; encoded here, so that the connection's queue only copies bytes.
            let nodes = try reader.snapshot { () throws(RPCStatus) in
                try walker!.next(limit: pageSize, maxBytes: pageBytes, using: reader).map(\.node)
            }
            return (walker!, nodes)
        }, completion: { result in
            loop.execute {
                self.fetching = false
                guard self.call.isOpen else { return }
                switch result {
                case .success(let (walker, nodes)):
                    self.walker = walker
                    self.ready.removeSubrange(0..<self.readyIndex)
                    self.ready.append(contentsOf: nodes)
                    self.readyBytes += nodes.reduce(0) { $0 + $1.count }
                    self.readyIndex = 0
                    self.pump()
                case .failure(let status):
                    self.connection.finish(self.call, status)
                }
            }
        })
    }
}
