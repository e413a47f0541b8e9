/// Bytes waiting to be written, with NIO-style high/low watermarks.
///
/// Above `highWatermark` the buffer reports itself unwritable; it becomes writable again only
/// once it has drained below `lowWatermark`, so producers do not flap around one threshold.
package struct OutboundBuffer {
    package let highWatermark: Int
    package let lowWatermark: Int
    private var storage: [UInt8] = []
    private var head = 0
    package private(set) var isWritable = true

    /// - Precondition: `0 <= lowWatermark <= highWatermark`.
    package init(highWatermark: Int, lowWatermark: Int) {
        precondition(lowWatermark >= 0 && lowWatermark <= highWatermark, "need 0 <= low <= high watermark")
        self.highWatermark = highWatermark
        self.lowWatermark = lowWatermark
    }

    /// Bytes not yet written.
    package var pendingBytes: Int { self.storage.count - self.head }
    package var isEmpty: Bool { self.pendingBytes == 0 }

    /// Appends through `body`; returns `true` when this made the buffer unwritable.
    package mutating func append(_ body: (inout [UInt8]) -> Void) -> Bool {
        body(&self.storage)
        if self.isWritable && self.pendingBytes > self.highWatermark {
            self.isWritable = false
            return true
        }
        return false
    }

    /// Calls `body` with the pending bytes; `body` returns how many it wrote (or a negative errno
    /// result, passed back untouched).
    package mutating func withPendingBytes(_ body: (UnsafeRawBufferPointer) -> Int) -> Int {
        let head = self.head
        return self.storage.withUnsafeBytes { raw in
            body(UnsafeRawBufferPointer(rebasing: raw[head...]))
        }
    }

    /// Marks `count` bytes written; returns `true` when this made the buffer writable again.
    package mutating func consume(_ count: Int) -> Bool {
        self.head += count
        if self.head == self.storage.count {
            // Keep a modest allocation around; give a large one back.
            self.storage.removeAll(keepingCapacity: self.storage.capacity <= 2 * self.highWatermark)
            self.head = 0
        } else if self.head > 64 * 1024 && self.head > self.storage.count / 2 {
            self.storage.removeSubrange(0..<self.head)
            self.head = 0
        }
        if !self.isWritable && self.pendingBytes < self.lowWatermark {
            self.isWritable = true
            return true
        }
        return false
    }
}
