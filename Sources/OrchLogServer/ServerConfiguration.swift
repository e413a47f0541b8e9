import OrchLogNet
import OrchLogWire

/// The server's limits and identity. Every field has a default that suits one machine.
package struct ServerConfiguration: Sendable {
    /// Where to listen; port 0 picks a free port.
    package var listen: SocketAddress
    /// The largest frame payload accepted or sent.
    package var maxFrameBytes = ProtocolConstants.defaultMaxFrameBytes
    /// Connections beyond this get a RESOURCE_EXHAUSTED `goaway` and are closed.
    package var maxConnections = 4096
    /// Calls open at once on one connection; more are ended with RESOURCE_EXHAUSTED.
    package var maxConcurrentCalls = 1024
    /// A connection that has not sent `hello` by then is closed, in milliseconds.
    package var helloTimeoutMillis = 10_000
    /// A connection with no open call and no frame for this long is closed, in milliseconds; 0 never.
    package var idleTimeoutMillis = 300_000
    /// How long running calls may take to finish after SIGTERM before connections are closed.
    package var drainGraceMillis = 5_000
    /// Outbound buffer watermarks per connection.
    package var highWatermark = 256 * 1024
    package var lowWatermark = 64 * 1024
    /// Event loops (serial queues, each with its sockets' readiness set) that run connections;
    /// about one per core.
    package var eventLoops = 2
    /// Messages per page when streams read from the database.
    package var streamPageSize = 256
    /// Bytes of messages after which a page ends early (it holds at least one): a stream of
    /// big entries holds few of them.
    package var streamPageBytes = 64 * 1024
    /// When set, `hello` must carry this token, else the connection gets UNAUTHENTICATED.
    package var authToken: [UInt8]?
    /// Sent in `hello_ack` and `Health`.
    package var serverName = "orchlogd"
    package var version = OrchLogVersion.current

    package init(listen: SocketAddress) {
        self.listen = listen
    }
}

/// The version of this build.
package enum OrchLogVersion {
    package static let current = "0.1.0"
}
