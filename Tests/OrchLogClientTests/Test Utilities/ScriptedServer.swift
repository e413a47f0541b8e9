import Foundation
import OrchLogWire

#if canImport(Glibc)
import Glibc
#endif

/// A server on 127.0.0.1 that answers each frame a client sends with the frames `script` gives,
/// then closes the connection if it says so: it makes the client meet answers orchlogd never
/// sends.
final class ScriptedServer: Sendable {
    let port: UInt16
    private let listener: Int32
    private let script: @Sendable (Frame) -> (frames: [Frame], close: Bool)
    private let connections = Locked(0)

    init(script: @escaping @Sendable (Frame) -> (frames: [Frame], close: Bool)) throws {
        self.script = script
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        var addr = sockaddr_in()
        addr.sin_family = sa_family_t(AF_INET)
        addr.sin_addr.s_addr = inet_addr("127.0.0.1")
        let bound = withUnsafePointer(to: &addr) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        guard bound == 0, listen(fd, 16) == 0 else { throw POSIXError(.EADDRINUSE) }
        var len = socklen_t(MemoryLayout<sockaddr_in>.size)
        _ = withUnsafeMutablePointer(to: &addr) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &len) }
        }
        self.listener = fd
        self.port = UInt16(bigEndian: addr.sin_port)
        Thread.detachNewThread { [self] in self.acceptLoop() }
    }

    /// Connections accepted so far.
    var connectionCount: Int { self.connections.withLock { $0 } }

    func stop() {
        shutdown(self.listener, Int32(SHUT_RDWR))
        close(self.listener)
    }

    private func acceptLoop() {
        while true {
            let client = accept(self.listener, nil, nil)
            guard client >= 0 else { return }
            self.connections.withLock { $0 += 1 }
            Thread.detachNewThread { [self] in self.serve(client) }
        }
    }

    private func serve(_ fd: Int32) {
        defer { close(fd) }
        var decoder = FrameDecoder()
        var buffer = [UInt8](repeating: 0, count: 65536)
        while true {
            let n = buffer.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
            guard n > 0 else { return }
            decoder.append(buffer[0..<n])
            while let frame = try? decoder.next() {
                let answer = self.script(frame)
                var bytes: [UInt8] = []
                for frame in answer.frames { FrameEncoder.encode(frame, into: &bytes) }
                guard bytes.withUnsafeBytes({ send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }) == bytes.count,
                      !answer.close
                else { return }
            }
        }
    }
}
