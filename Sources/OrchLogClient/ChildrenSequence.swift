import Foundation
import OrchLogWire

/// The children of an entry, in seq order; see `OrchLogClient.streamChildren(of:after:follow:limit:options:)`.
///
/// The client asks the server for a bounded number of messages at a time (request-n credit), so
/// a slow consumer never makes the client buffer without bound.
public struct ChildrenSequence: AsyncSequence, Sendable {
    public typealias Element = LogEntry

    let client: OrchLogClient
    let parent: UUID?
    let after: UInt64
    let follow: Bool
    let limit: Int
    let options: CallOptions

    public func makeAsyncIterator() -> Iterator {
        Iterator(sequence: self)
    }

    /// Yields children; after a reconnect it resumes after the last seq it yielded.
    public struct Iterator: AsyncIteratorProtocol {
        private let sequence: ChildrenSequence
        private let driver: StreamDriver
        /// The last seq yielded: where a reopened stream resumes.
        public private(set) var lastSeq: UInt64
        private var yielded = 0

        init(sequence: ChildrenSequence) {
            self.sequence = sequence
            self.lastSeq = sequence.after
            self.driver = StreamDriver(
                client: sequence.client, method: MethodPath.streamChildren, options: sequence.options, follow: sequence.follow
            )
        }

        public mutating func next() async throws -> LogEntry? {
            if self.sequence.limit > 0 && self.yielded >= self.sequence.limit { return nil }
            let request = Orchlog_V1_StreamChildrenRequest.with {
                if let parent = self.sequence.parent { $0.parentExecID = parent.wireString }
                $0.afterSeq = self.lastSeq
                $0.follow = self.sequence.follow
                if self.sequence.limit > 0 { $0.limit = UInt32(clamping: self.sequence.limit - self.yielded) }
            }.encodedBytes()
            guard let payload = try await self.driver.next(request: { request }, canResume: { true }) else { return nil }
            let entry: LogEntry
            do {
                entry = try LogEntry(try LogEntryMessage.decodeUntrusted(payload))
            } catch let error as OrchLogError {
                throw error
            } catch {
                throw OrchLogError(code: .internal, message: "undecodable LogEntry: \(error)")
            }
            self.lastSeq = entry.seq
            self.yielded += 1
            return entry
        }
    }
}
