import GRPCCore
import OrchLogStore
import OrchLogWire

/// GetTree, as orchlogd's TreeStream does it: the subtree under a root in depth-first preorder,
/// read a page at a time by a `TreeWalker` on a reader; the next page is read only once the
/// transport has taken the previous one.
enum TreeStream {
    static func response(
        to request: Orchlog_V1_GetTreeRequest, service: OrchLogGRPCService, context: ServerContext
    ) async throws(RPCError) -> StreamingServerResponse<Orchlog_V1_TreeNode> {
        let rootID = try mapped { () throws(RPCStatus) in
            try canonicalID(request.hasRootID ? request.rootID : nil, field: "root_id")
        }
        let maxDepth = request.maxDepth
        let store = service.store
        let pageSize = service.streamPageSize
        // The root lookup and first page before accepting: NOT_FOUND is a plain rejection.
        let (firstWalker, firstItems) = try await store.read { reader throws(RPCStatus) in
            guard let root = try reader.entry(id: rootID) else {
                throw .notFound("root_id: entry \(rootID) not found")
            }
            var walker = TreeWalker(root: root, maxDepth: maxDepth)
            let items = try walker.next(limit: pageSize, using: reader)
            return (walker, items)
        }

        return StreamingServerResponse { writer in
            var walker = firstWalker
            var items = firstItems
            while true {
                if context.cancellation.isCancelled || Task.isCancelled {
                    throw RPCError(code: .cancelled, message: "cancelled by the client")
                }
                // The walker hands out nodes in wire form; this service's serializer wants messages.
                try await writer.write(contentsOf: items.map { item in
                    try Orchlog_V1_TreeNode(serializedBytes: item.node)
                })
                if walker.isFinished { return [:] }
                let current = walker
                (walker, items) = try await store.read { reader throws(RPCStatus) in
                    var walker = current
                    let items = try walker.next(limit: pageSize, using: reader)
                    return (walker, items)
                }
            }
        }
    }
}
