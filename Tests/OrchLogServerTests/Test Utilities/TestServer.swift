import Foundation
import Logging
import OrchLogNet
import OrchLogServer
import OrchLogStore
import OrchLogTestSupport

/// An in-process server on 127.0.0.1 with a free port and a fresh database file.
final class TestServer: Sendable {
    let directory = TemporaryDirectory()
    let store: LogStore
    let server: OrchLogServer
    let port: UInt16

    init(
        configure: (inout ServerConfiguration) -> Void = { _ in },
        storeOptions: StoreOptions = StoreOptions()
    ) throws {
        self.store = try LogStore(path: self.directory.file("test.db"), options: storeOptions, logger: Logger(label: "test"))
        var configuration = ServerConfiguration(listen: try SocketAddress(parsing: "127.0.0.1:0"))
        configure(&configuration)
        self.server = try OrchLogServer(configuration: configuration, store: self.store, logger: Logger(label: "test"))
        self.port = try self.server.start().port
    }

    /// A connected client that has done hello.
    func client() throws -> RawClient {
        let client = try RawClient(port: self.port)
        _ = try client.hello()
        return client
    }

    /// Drains and waits until the server has stopped.
    func shutdown() {
        let done = DispatchSemaphore(value: 0)
        self.server.shutdown { done.signal() }
        done.wait()
    }
}
