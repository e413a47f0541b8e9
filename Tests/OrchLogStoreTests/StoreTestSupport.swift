import Foundation
import Logging
import OrchLogStore
import OrchLogTestSupport
import OrchLogWire

extension LogStore {
    /// A store on a new file in `directory`.
    static func temporary(in directory: TemporaryDirectory, options: StoreOptions = StoreOptions()) throws -> LogStore {
        try LogStore(path: directory.file("test.db"), options: options, logger: Logger(label: "test"))
    }

    func append(_ entries: [NewEntry]) async -> Result<[AppendOutcome], RPCStatus> {
        await withCheckedContinuation { continuation in
            self.append(entries) {
                continuation.resume(returning: $0)
                return nil
            }
        }
    }

    /// Validates and appends one entry; returns the outcome or the status.
    func append(
        id: String? = nil, category: String? = nil, parent: String? = nil, content: String? = "c",
        order: Int64? = nil, elaboration: String? = nil
    ) async -> Result<AppendOutcome, RPCStatus> {
        do throws(RPCStatus) {
            let entry = try NewEntry.validate(
                id: id, category: category, parentID: parent, content: content, siblingOrder: order,
                elaboration: elaboration, fieldPath: "entry", maxContentBytes: self.options.maxContentBytes
            )
            return await self.append([entry]).map { $0[0] }
        } catch {
            return .failure(error)
        }
    }

    func readNow<T: Sendable>(_ body: @escaping @Sendable (StoreReader) throws -> T) async throws -> T {
        try await withCheckedThrowingContinuation { continuation in
            self.read({ reader throws(RPCStatus) in
                do {
                    return try body(reader)
                } catch let status as RPCStatus {
                    throw status
                } catch {
                    throw .internal("\(error)")
                }
            }) { continuation.resume(with: $0) }
        }
    }

    /// The whole subtree under `root` in preorder, via the walker, with a small page size.
    func tree(_ root: String, maxDepth: UInt32 = 0, pageSize: Int = 2) async throws -> [TreeItem] {
        try await self.readNow { reader in
            guard let record = try reader.entry(id: root) else { throw RPCStatus.notFound(root) }
            var walker = TreeWalker(root: record, maxDepth: maxDepth, pageSize: pageSize)
            var items: [TreeItem] = []
            while !walker.isFinished { items += try walker.next(limit: 3, using: reader) }
            return items
        }
    }
}

extension TreeItem {
    /// The node's depth as a client decodes it (UInt32.max if the bytes are not a `TreeNode`).
    var depth: UInt32 {
        (try? Orchlog_V1_TreeNode(serializedBytes: self.node))?.depth ?? UInt32.max
    }

    /// The node's entry decoded as a client decodes it, back into a record (an empty one with
    /// content "<undecodable>" if the bytes are not a `TreeNode`, which no expectation matches).
    var record: LogRecord {
        guard let node = try? Orchlog_V1_TreeNode(serializedBytes: self.node), node.hasEntry else {
            return LogRecord(id: "", category: nil, parentID: nil, content: "<undecodable>", siblingOrder: nil, elaboration: nil, seq: 0)
        }
        let message = node.entry
        return LogRecord(
            id: message.orchestrationSessionLogID, category: message.hasCategory ? message.category : nil,
            parentID: message.hasParentExecID ? message.parentExecID : nil, content: message.content,
            siblingOrder: message.hasSiblingOrder ? message.siblingOrder : nil,
            elaboration: message.hasElaboration ? message.elaboration : nil, seq: message.seq
        )
    }
}

extension Result {
    var value: Success? { if case .success(let v) = self { return v } else { return nil } }
    var status: Failure? { if case .failure(let e) = self { return e } else { return nil } }
}
