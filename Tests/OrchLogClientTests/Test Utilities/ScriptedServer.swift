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
        (self.listener, self.port) = try listenOnLoopback()
        Thread.detachNewThread { [self] in self.acceptLoop() }
    }

    /// Connections accepted so far.
    var connectionCount: Int { self.connections.withLock { $0 } }

    /// Stops accepting. The accept thread closes the listener once it is out of `accept`: closed
    /// here, its number could go to the next test's listener while that thread still uses it.
    func stop() {
        shutdown(self.listener, Int32(SHUT_RDWR))
    }

    private func acceptLoop() {
        defer { close(self.listener) }
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
