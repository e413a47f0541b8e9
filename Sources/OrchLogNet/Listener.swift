#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import Dispatch
import Logging

/// A listening socket that accepts every pending connection per readiness event and hands each
/// new socket to `onAccept`.
// @unchecked: the source and the pause flag are confined to `queue`.
package final class Listener: @unchecked Sendable {
    /// The address bound, with the real port when 0 was asked for.
    package let address: SocketAddress
    private let fd: Int32
    private let queue: DispatchQueue
    private let logger: Logger
    private var source: (any DispatchSourceRead)?
    private var paused = false

    /// Binds and listens on `address` (port 0 picks a free port).
    package init(address: SocketAddress, backlog: Int32 = 1024, logger: Logger) throws {
        let (fd, port) = try Socket.listen(on: address, backlog: backlog)
        self.fd = fd
        self.address = try SocketAddress(host: address.host, port: port)
        self.queue = DispatchQueue(label: "orchlog.accept")
        self.logger = logger
    }

    /// Starts accepting. `onAccept` runs on the listener's queue with a new non-blocking socket
    /// that it now owns.
    package func start(onAccept: @escaping @Sendable (Int32) -> Void) {
        self.queue.sync {
            let source = DispatchSource.makeReadSource(fileDescriptor: self.fd, queue: self.queue)
            source.setEventHandler { self.acceptAll(onAccept) }
            let fd = self.fd
            source.setCancelHandler { Glibc.close(fd) }
            self.source = source
            source.resume()
        }
    }

    /// Stops accepting and closes the listening socket.
    package func stop() {
        self.queue.sync {
            guard let source = self.source else { return }
            if self.paused { source.resume() }
            source.cancel()
            self.source = nil
        }
    }

    private func acceptAll(_ onAccept: @Sendable (Int32) -> Void) {
        while self.source != nil && !self.paused {
            do {
                guard let fd = try Socket.accept(self.fd) else { return }
                onAccept(fd)
            } catch {
                // Out of descriptors (EMFILE/ENFILE) or memory: pause briefly instead of spinning.
                self.logger.warning("accept failed; pausing 100 ms", metadata: ["error": "\(error)"])
                self.paused = true
                self.source?.suspend()
                self.queue.asyncAfter(deadline: .now() + .milliseconds(100)) {
                    guard self.paused, let source = self.source else { return }
                    self.paused = false
                    source.resume()
                }
                return
            }
        }
    }
}
