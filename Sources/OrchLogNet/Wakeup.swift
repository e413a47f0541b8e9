#if canImport(Glibc)
import Glibc
#endif
import CEpoll

/// An eventfd that wakes an event loop's waiting thread: written when tasks arrive in an empty
/// mailbox and when the loop goes away, read by the waiting thread.
///
/// Shared by the loop and its waiting thread, and closed when the last of them lets go: the
/// thread may end (and would otherwise close it) while the loop's deinit is still about to write
/// it, and by then the descriptor number could belong to someone else's socket.
final class Wakeup: Sendable {
    let fd: Int32

    init() throws(SocketError) {
        self.fd = eventfd(0, Int32(EFD_CLOEXEC | EFD_NONBLOCK))
        guard self.fd >= 0 else { throw SocketError("eventfd", errno: errno) }
    }

    deinit {
        close(self.fd)
    }

    /// Makes the descriptor readable until the next `reset`.
    func signal() {
        var one: UInt64 = 1
        _ = write(self.fd, &one, MemoryLayout<UInt64>.size)
    }

    /// Makes it unreadable again (it is non-blocking, so this never waits).
    func reset() {
        var value: UInt64 = 0
        _ = read(self.fd, &value, MemoryLayout<UInt64>.size)
    }
}
