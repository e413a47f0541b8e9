/// Buffer bounds of one connection.
package struct ConnectionOptions: Sendable {
    /// The largest frame payload accepted from the peer.
    package var maxFrameBytes: Int = 4 * 1024 * 1024
    /// Above this many unwritten bytes the connection stops reading and reports itself unwritable.
    package var highWatermark: Int = 256 * 1024
    /// Below this many unwritten bytes it reads again and reports itself writable.
    package var lowWatermark: Int = 64 * 1024
    /// How long a closing connection may spend flushing its last frames to a peer that does not
    /// read, before the socket is closed anyway.
    package var closeFlushTimeoutMillis: Int = 1000

    package init() {}
}
