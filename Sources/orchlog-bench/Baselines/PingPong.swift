import Foundation
import OrchLogNet

#if canImport(Glibc)
import Glibc
#endif

/// The floor of a lockstep call: a bare TCP ping-pong over loopback with the byte counts of one
/// orchlog call (request frame out, response frames back), between two threads of this process,
/// with no parsing at all.
enum PingPong {
    static func run(requestBytes: Int, responseBytes: Int, seconds: Double) throws -> CallLoad.Result {
        // The project's own socket calls (non-blocking, TCP_NODELAY), then blocking for lockstep.
        let (listener, port) = try Socket.listen(on: try SocketAddress(host: "127.0.0.1", port: 0), backlog: 1)
        defer { close(listener) }
        let client = try Socket.connect(to: try SocketAddress(host: "127.0.0.1", port: port), timeoutMillis: 5_000)
        defer { close(client) }
        var pending = pollfd(fd: listener, events: Int16(POLLIN), revents: 0)
        guard poll(&pending, 1, 5_000) > 0, let peer = try Socket.accept(listener) else {
            throw BenchError("ping-pong: the loopback connection was not accepted")
        }
        setBlocking(client)
        setBlocking(peer)

        let echo = Thread {
            defer { close(peer) }
            var request = [UInt8](repeating: 0, count: requestBytes)
            let response = [UInt8](repeating: 7, count: responseBytes)
            while readFully(peer, &request) {
                guard writeFully(peer, response) else { return }
            }
        }
        echo.start()

        let request = [UInt8](repeating: 1, count: requestBytes)
        var response = [UInt8](repeating: 0, count: responseBytes)
        return try CallLoad.Result.lockstep(seconds: seconds, capacity: 1 << 16) {
            guard writeFully(client, request), readFully(client, &response) else {
                throw BenchError("ping-pong connection broke")
            }
        }
    }

    private static func setBlocking(_ fd: Int32) {
        _ = fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) & ~O_NONBLOCK)
    }

    private static func readFully(_ fd: Int32, _ buffer: inout [UInt8]) -> Bool {
        var offset = 0
        while offset < buffer.count {
            let count = buffer.withUnsafeMutableBytes { read(fd, $0.baseAddress! + offset, $0.count - offset) }
            if count <= 0 { return false }
            offset += count
        }
        return true
    }

    private static func writeFully(_ fd: Int32, _ buffer: [UInt8]) -> Bool {
        var offset = 0
        while offset < buffer.count {
            let count = buffer.withUnsafeBytes { write(fd, $0.baseAddress! + offset, $0.count - offset) }
            if count <= 0 { return false }
            offset += count
        }
        return true
    }
}
