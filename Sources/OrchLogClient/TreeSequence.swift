import Foundation
import OrchLogWire

/// A subtree in depth-first preorder; see `OrchLogClient.getTree(root:maxDepth:options:)`.
///
/// Retried only before its first node: a tree read again later could differ from the part
/// already yielded.
public struct TreeSequence: AsyncSequence, Sendable {
    public typealias Element = TreeNode

    let client: OrchLogClient
    let root: UUID
    let maxDepth: Int
    let options: CallOptions

    public func makeAsyncIterator() -> Iterator {
        Iterator(sequence: self)
    }

    public struct Iterator: AsyncIteratorProtocol {
        private let driver: StreamDriver
        private let request: [UInt8]
        private var yielded = 0

        init(sequence: TreeSequence) {
            self.driver = StreamDriver(client: sequence.client, method: MethodPath.getTree, options: sequence.options, follow: false)
            self.request = Orchlog_V1_GetTreeRequest.with {
                $0.rootID = sequence.root.wireString
                if sequence.maxDepth > 0 { $0.maxDepth = UInt32(clamping: sequence.maxDepth) }
            }.encodedBytes()
        }

        public mutating func next() async throws -> TreeNode? {
            let nothingYet = self.yielded == 0
            let request = self.request
            guard let payload = try await self.driver.next(request: { request }, canResume: { nothingYet }) else { return nil }
            let node: Orchlog_V1_TreeNode
            do {
                node = try Orchlog_V1_TreeNode.decodeUntrusted(payload)
            } catch {
                throw OrchLogError(code: .internal, message: "undecodable TreeNode: \(error)")
            }
            self.yielded += 1
            return TreeNode(entry: try LogEntry(node.entry), depth: Int(node.depth))
        }
    }
}
