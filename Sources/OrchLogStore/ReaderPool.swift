import Dispatch
import OrchLogWire
import Synchronization

/// Reader connections, each on its own serial queue; WAL lets them read while the writer writes.
final class ReaderPool: Sendable {
    // @unchecked: `db` is used only on `queue`.
    private final class Reader: @unchecked Sendable {
        let db: Database
        let queue: DispatchQueue
        /// Reads queued on `queue` or running there, until their body returns.
        let queued = Atomic<Int>(0)
        init(db: Database, index: Int) {
            self.db = db
            self.queue = DispatchQueue(label: "orchlog.store.reader.\(index)")
        }
    }

    private let readers: [Reader]
    private let counter = Counter()

    init(connections: [Database]) {
        precondition(!connections.isEmpty, "a reader pool needs a connection")
        self.readers = connections.enumerated().map { Reader(db: $0.element, index: $0.offset) }
    }

    /// Runs `body` on the least busy reader's queue and hands its result to `completion` there.
    func read<T: Sendable>(
        _ body: @escaping @Sendable (StoreReader) throws(RPCStatus) -> T,
        completion: @escaping @Sendable (Result<T, RPCStatus>) -> Void
    ) {
        let reader = self.leastBusyReader()
        reader.queued.add(1, ordering: .relaxed)
        reader.queue.async {
            let result: Result<T, RPCStatus>
            do throws(RPCStatus) {
                result = .success(try body(StoreReader(db: reader.db)))
            } catch {
                result = .failure(error)
            }
            reader.queued.subtract(1, ordering: .relaxed)
            completion(result)
        }
    }

    /// The reader with the fewest reads queued, taking turns among equals: a read then does not
    /// wait behind a long one (a page of a big tree) while another reader is idle.
    private func leastBusyReader() -> Reader {
        let start = self.counter.next()
        var best = self.readers[start % self.readers.count]
        var bestQueued = best.queued.load(ordering: .relaxed)
        for offset in 1..<self.readers.count where bestQueued > 0 {
            let reader = self.readers[(start + offset) % self.readers.count]
            let queued = reader.queued.load(ordering: .relaxed)
            if queued < bestQueued {
                best = reader
                bestQueued = queued
            }
        }
        return best
    }

    /// Runs `body` on every reader's queue and waits (shutdown).
    func forEachConnection(_ body: (Database) -> Void) {
        for reader in self.readers { reader.queue.sync { body(reader.db) } }
    }
}
