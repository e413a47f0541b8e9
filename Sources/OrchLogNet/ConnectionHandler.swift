import OrchLogWire

/// What a `Connection` tells its owner. Every call arrives on the connection's queue.
package protocol ConnectionHandler: AnyObject {
    /// A whole frame arrived: its payload, length prefix removed. The handler reads it its own way
    /// (a client and a server read different frames); a payload it cannot read throws, and the
    /// connection then stops delivering and reports `didFailDecoding`.
    func connection(_ connection: Connection, didReceive payload: ArraySlice<UInt8>) throws(FrameDecodingError)
    /// The peer sent bytes that cannot be frames; the handler should `goaway` and close.
    func connection(_ connection: Connection, didFailDecoding error: FrameDecodingError)
    /// The outbound buffer crossed a watermark: producers should pause (false) or resume (true).
    func connection(_ connection: Connection, writabilityChanged isWritable: Bool)
    /// The connection is closed (by either side) and will deliver nothing more.
    func connectionDidClose(_ connection: Connection, reason: String)
}
