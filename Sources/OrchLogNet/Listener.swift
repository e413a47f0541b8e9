#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import Dispatch
import Logging

/// A listening socket that accepts every pending connection per readiness event and hands each
/// new socket to `onAccept`. It waits on an event loop of its own, like every other socket.
// @unchecked: the token, the pause and closed flags are confined to the loop's queue.
package final class Listener: ReadinessHandler, @unchecked Sendable {
    /// The address bound, with the real port when 0 was asked for.
    package let address: SocketAddress
    private let fd: Int32
    private let loop: EventLoop
    private let logger: Logger
    private var token: UInt64?
    private var onAccept: (@Sendable (Int32) -> Void)?
    private var paused = false
    private var closed = false

    /// Binds and listens on `address` (port 0 picks a free port).
    package init(address: SocketAddress, backlog: Int32 = 1024, logger: Logger) throws {
        let (fd, port) = try Socket.listen(on: address, backlog: backlog)
        do {
            self.address = try SocketAddress(host: address.host, port: port)
            self.loop = try EventLoop(label: "orchlog.accept")
        } catch {
            Glibc.close(fd)
            throw error
        }
        self.fd = fd
        self.logger = logger
    }

    /// Starts accepting. `onAccept` runs on the listener's queue with a new non-blocking socket
    /// that it now owns.
    package func start(onAccept: @escaping @Sendable (Int32) -> Void) throws {
        // A Result rather than a typed-throwing closure: Swift 6.3 crashes compiling the latter
        // through `sync`.
        let registered = self.loop.queue.sync {
            self.onAccept = onAccept
            return Result { () throws(SocketError) in
                self.token = try self.loop.register(self.fd, interest: .readable, handler: self)
            }
        }
        try registered.get()
    }

    deinit {
        // Never stopped (a registered listener is kept by its loop, so it was never started
        // either, or its start failed).
        if !self.closed { Glibc.close(self.fd) }
    }

    /// Stops accepting and closes the listening socket, whether or not it was started.
    package func stop() {
        self.loop.queue.sync {
            guard !self.closed else { return }
            self.closed = true
            if let token = self.token {
                self.loop.deregister(self.fd, token: token)
                self.token = nil
            }
            self.onAccept = nil
            Glibc.close(self.fd)
        }
    }

    func socketReady(_ readiness: Readiness) {
        while let onAccept = self.onAccept, !self.paused {
            do {
                guard let fd = try Socket.accept(self.fd) else { return }
                onAccept(fd)
            } catch {
                // Out of descriptors (EMFILE/ENFILE) or memory: pause briefly instead of spinning.
                self.logger.warning("accept failed; pausing 100 ms", metadata: ["error": "\(error)"])
                self.setPaused(true)
                self.loop.queue.asyncAfter(deadline: .now() + .milliseconds(100)) { self.setPaused(false) }
                return
            }
        }
    }

    private func setPaused(_ paused: Bool) {
        guard let token = self.token, paused != self.paused else { return }
        self.paused = paused
        do throws(SocketError) {
            try self.loop.setInterest(paused ? [] : .readable, of: self.fd, token: token)
        } catch {
            self.logger.error("cannot watch the listening socket", metadata: ["error": "\(error)"])
        }
    }
}
