#if canImport(Glibc)
import Glibc
#endif
import CEpoll

/// What a socket is waited on for.
struct Interest: OptionSet, Sendable {
    let rawValue: UInt32

    static let readable = Interest(rawValue: EPOLLIN.rawValue)
    static let writable = Interest(rawValue: EPOLLOUT.rawValue)
}

/// What a socket is ready for: the interests that came true, and whether it failed or hung up
/// (reported whatever the interest, so a paused socket still learns of it).
struct Readiness: Sendable {
    var readable: Bool
    var writable: Bool
    var failed: Bool

    init(events: UInt32) {
        self.readable = events & EPOLLIN.rawValue != 0
        self.writable = events & EPOLLOUT.rawValue != 0
        self.failed = events & (EPOLLERR.rawValue | EPOLLHUP.rawValue) != 0
    }
}

/// The sockets of one event loop in a Linux epoll instance, level-triggered: a socket stays
/// ready until it is read or written, so a loop may serve part of it and come back.
///
/// `wait` and `forEachReady` are called by the loop's waiting thread only (they share the event
/// buffer); `add`, `modify` and `remove` from the loop's queue, on any thread.
///
/// Each socket is registered under a token that is never reused, so an event still in hand for a
/// socket that was closed meanwhile (and whose descriptor number a new socket may already have)
/// finds no owner instead of the wrong one.
// @unchecked: the event buffer is used by one thread (see above); the descriptor is closed once,
// by `close`, when that thread ends.
final class ReadinessSet: @unchecked Sendable {
    /// The epoll descriptor.
    let fd: Int32
    /// Events taken per `wait`.
    static let capacity = 64
    private let events: UnsafeMutablePointer<epoll_event>

    init() throws(SocketError) {
        let fd = epoll_create1(Int32(EPOLL_CLOEXEC))
        guard fd >= 0 else { throw SocketError("epoll_create1", errno: errno) }
        self.fd = fd
        self.events = .allocate(capacity: Self.capacity)
    }

    deinit {
        self.events.deallocate()
    }

    func add(_ socket: Int32, token: UInt64, interest: Interest) throws(SocketError) {
        try self.control(EPOLL_CTL_ADD, socket, token: token, interest: interest)
    }

    func modify(_ socket: Int32, token: UInt64, interest: Interest) throws(SocketError) {
        try self.control(EPOLL_CTL_MOD, socket, token: token, interest: interest)
    }

    /// Forgets `socket`; call before closing it (a closed descriptor leaves the set by itself
    /// only once no duplicate of it remains).
    func remove(_ socket: Int32) {
        var event = epoll_event()
        _ = epoll_ctl(self.fd, EPOLL_CTL_DEL, socket, &event)
    }

    /// Waits up to `timeoutMillis` (-1: for ever) until sockets are ready and takes them (at
    /// most `capacity`); returns how many, for `forEachReady` (0 after a signal), or `nil` if
    /// the set itself failed.
    func wait(timeoutMillis: Int32) -> Int? {
        let count = epoll_wait(self.fd, self.events, Int32(Self.capacity), timeoutMillis)
        if count < 0 { return errno == EINTR ? 0 : nil }
        return Int(count)
    }

    /// Hands each of the `count` sockets the last `wait` took to `body`.
    func forEachReady(_ count: Int, _ body: (_ token: UInt64, _ readiness: Readiness) -> Void) {
        for index in 0..<count {
            let event = self.events[index]
            body(event.data.u64, Readiness(events: event.events))
        }
    }

    func close() {
        Glibc.close(self.fd)
    }

    private func control(_ operation: Int32, _ socket: Int32, token: UInt64, interest: Interest) throws(SocketError) {
        var event = epoll_event(events: interest.rawValue, data: epoll_data_t(u64: token))
        guard epoll_ctl(self.fd, operation, socket, &event) == 0 else {
            throw SocketError("epoll_ctl", errno: errno)
        }
    }
}
