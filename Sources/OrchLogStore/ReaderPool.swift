import Dispatch
import OrchLogWire

/// Reader connections, each on its own serial queue; WAL lets them read while the writer writes.
final class ReaderPool: Sendable {
    // @unchecked: `db` is used only on `queue`.
    private final class Reader: @unchecked Sendable {
        let db: Database
        let queue: DispatchQueue
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

    /// Runs `body` on the next reader's queue and hands its result to `completion` there.
    func read<T: Sendable>(
        _ body: @escaping @Sendable (StoreReader) throws(RPCStatus) -> T,
        completion: @escaping @Sendable (Result<T, RPCStatus>) -> Void
    ) {
        let reader = self.readers[self.counter.next() % self.readers.count]
        reader.queue.async {
            do throws(RPCStatus) {
                completion(.success(try body(StoreReader(db: reader.db))))
            } catch {
                completion(.failure(error))
            }
        }
    }

    /// Runs `body` on every reader's queue and waits (shutdown).
    func forEachConnection(_ body: (Database) -> Void) {
        for reader in self.readers { reader.queue.sync { body(reader.db) } }
    }
}
