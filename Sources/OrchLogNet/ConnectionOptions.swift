/// Buffer bounds of one connection.
package struct ConnectionOptions: Sendable {
    /// The largest frame payload accepted from the peer.
    package var maxFrameBytes: Int = 4 * 1024 * 1024
    /// Above this many unwritten bytes the connection stops reading and reports itself unwritable.
    package var highWatermark: Int = 256 * 1024
    /// Below this many unwritten bytes it reads again and reports itself writable.
    package var lowWatermark: Int = 64 * 1024
    /// Whether reading stops above the high watermark. A server's does, so that a peer that
    /// sends without reading is paused; a client's must not (PROTOCOL.md section 5: clients read
    /// continuously), or two peers each waiting for the other to read would both stop for good.
    package var stopsReadingWhenUnwritable = true
    /// How long a closing connection may spend flushing its last frames to a peer that does not
    /// read, before the socket is closed anyway.
    package var closeFlushTimeoutMillis: Int = 1000

    package init() {}
}
