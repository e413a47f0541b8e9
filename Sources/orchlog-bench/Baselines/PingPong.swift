import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// The floor of a lockstep call: a bare TCP ping-pong over loopback with the byte counts of one
/// orchlog call (request frame out, response frames back), between two threads of this process,
/// with no parsing at all.
enum PingPong {
    static func run(requestBytes: Int, responseBytes: Int, seconds: Double) throws -> CallLoad.Result {
        let listener = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard listener >= 0 else { throw BenchError("socket failed: errno \(errno)") }
        defer { close(listener) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let bound = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { pointer in
                bind(listener, pointer, length) == 0 && listen(listener, 1) == 0
                    && getsockname(listener, pointer, &length) == 0
            }
        }
        guard bound else { throw BenchError("ping-pong listener failed: errno \(errno)") }

        let echo = Thread {
            let peer = accept(listener, nil, nil)
            guard peer >= 0 else { return }
            defer { close(peer) }
            noDelay(peer)
            var request = [UInt8](repeating: 0, count: requestBytes)
            let response = [UInt8](repeating: 7, count: responseBytes)
            while readFully(peer, &request) {
                guard writeFully(peer, response) else { return }
            }
        }
        echo.start()

        let client = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        defer { close(client) }
        let connected = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(client, $0, length) == 0 }
        }
        guard connected else { throw BenchError("ping-pong connect failed: errno \(errno)") }
        noDelay(client)
        let request = [UInt8](repeating: 1, count: requestBytes)
        var response = [UInt8](repeating: 0, count: responseBytes)
        var result = CallLoad.Result(latencies: Latencies(capacity: 1 << 16))
        let start = MonotonicClock.now()
        let end = start + UInt64(seconds * 1e9)
        var now = start
        while now < end {
            guard writeFully(client, request), readFully(client, &response) else {
                throw BenchError("ping-pong connection broke")
            }
            let finished = MonotonicClock.now()
            result.latencies.record(finished - now)
            result.ops += 1
            now = finished
        }
        result.seconds = MonotonicClock.seconds(from: start, to: now)
        return result
    }

    private static func noDelay(_ fd: Int32) {
        var one: Int32 = 1
        setsockopt(fd, Int32(IPPROTO_TCP), TCP_NODELAY, &one, socklen_t(MemoryLayout<Int32>.size))
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
