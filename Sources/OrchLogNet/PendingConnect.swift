#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import Dispatch

/// A connect in progress on an event loop: the socket is watched for writability, which is when
/// the kernel has the outcome, and abandoned at the timeout. No thread waits meanwhile.
// @unchecked: confined to the loop's queue.
final class PendingConnect: ReadinessHandler, @unchecked Sendable {
    private let fd: Int32
    private let address: SocketAddress
    private let loop: EventLoop
    private var token: UInt64?
    private var completion: (@Sendable (Result<Int32, SocketError>) -> Void)?

    init(fd: Int32, address: SocketAddress, loop: EventLoop, completion: @escaping @Sendable (Result<Int32, SocketError>) -> Void) {
        self.fd = fd
        self.address = address
        self.loop = loop
        self.completion = completion
    }

    func start(timeoutMillis: Int) {
        do throws(SocketError) {
            self.token = try self.loop.register(self.fd, interest: .writable, handler: self)
        } catch {
            self.finish(.failure(error))
            return
        }
        // Weak: once the connect is over, the pending timer keeps neither it nor its loop alive.
        self.loop.queue.asyncAfter(deadline: .now() + .milliseconds(timeoutMillis)) { [weak self] in
            guard let self else { return }
            self.finish(.failure(SocketError("connect \(self.address)", errno: ETIMEDOUT)))
        }
    }

    func socketReady(_ readiness: Readiness) {
        do throws(SocketError) {
            try Socket.finishConnect(self.fd, to: self.address)
            self.finish(.success(self.fd))
        } catch {
            self.finish(.failure(error))
        }
    }

    /// Hands the socket over (or closes it on failure); the first outcome wins.
    private func finish(_ result: Result<Int32, SocketError>) {
        guard let completion = self.completion else { return }
        self.completion = nil
        if let token = self.token {
            self.loop.deregister(self.fd, token: token)
            self.token = nil
        }
        if case .failure = result { Glibc.close(self.fd) }
        completion(result)
    }
}

extension EventLoop {
    /// Connects to `address` without blocking a thread: `completion` runs on the loop's queue with
    /// a connected non-blocking socket (now the caller's), or the error, within `timeoutMillis`.
    package func connect(
        to address: SocketAddress, timeoutMillis: Int,
        completion: @escaping @Sendable (Result<Int32, SocketError>) -> Void
    ) {
        self.queue.async {
            do throws(SocketError) {
                let (fd, connected) = try Socket.startConnect(to: address)
                if connected {
                    completion(.success(fd))
                } else {
                    PendingConnect(fd: fd, address: address, loop: self, completion: completion)
                        .start(timeoutMillis: max(1, timeoutMillis))
                }
            } catch {
                completion(.failure(error))
            }
        }
    }
}
