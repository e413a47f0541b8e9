import Foundation
import OrchLogWire

#if canImport(Glibc)
import Glibc
#endif

/// A TCP proxy on 127.0.0.1 that misbehaves on request, between a client and a server:
/// refuse connections, cut a connection after the server's first N frames, delay data, or drop
/// every open connection at once.
final class FaultProxy: Sendable {
    enum Mode: Sendable, Equatable {
        /// Forward everything.
        case pass
        /// Accept and close at once.
        case refuse
        /// Forward the server's first `frames` frames, then cut the connection when more
        /// server data arrives (the request got through, its reply is lost).
        case cutAfterServerFrames(Int)
        /// Delay every chunk by `milliseconds`.
        case delay(milliseconds: Int)
    }

    private struct State {
        var mode = Mode.pass
        /// Mode for the next connection only, then `mode` again.
        var nextConnectionMode: Mode?
        var targetPort: UInt16
        var open: [Int32] = []
        var accepted = 0
        var closed = 0
        var stopped = false
    }

    let port: UInt16
    private let listener: Int32
    private let state: Locked<State>

    init(targetPort: UInt16) throws {
        self.state = Locked(State(targetPort: targetPort))
        (self.listener, self.port) = try listenOnLoopback()
        Thread.detachNewThread { [self] in self.acceptLoop() }
    }

    var mode: Mode {
        get { self.state.withLock { $0.mode } }
        set { self.state.withLock { $0.mode = newValue } }
    }

    /// Applies `mode` to the next accepted connection only.
    func setNextConnectionMode(_ mode: Mode) {
        self.state.withLock { $0.nextConnectionMode = mode }
    }

    /// Connections accepted so far.
    var acceptedCount: Int { self.state.withLock { $0.accepted } }

    /// Forwarded connections that have ended so far (either side closed).
    var closedCount: Int { self.state.withLock { $0.closed } }

    /// Cuts every open connection (both directions).
    func dropAll() {
        let fds = self.state.withLock { state -> [Int32] in
            defer { state.open = [] }
            return state.open
        }
        for fd in fds { shutdown(fd, Int32(SHUT_RDWR)) }
    }

    func stop() {
        self.state.withLock { $0.stopped = true }
        // The accept thread closes the listener (see ScriptedServer.stop).
        shutdown(self.listener, Int32(SHUT_RDWR))
        self.dropAll()
    }

    private func acceptLoop() {
        defer { close(self.listener) }
        while true {
            let client = accept(self.listener, nil, nil)
            if client < 0 {
                if self.state.withLock({ $0.stopped }) { return }
                if errno == EINTR { continue }
                return
            }
            let (mode, target) = self.state.withLock { state -> (Mode, UInt16) in
                state.accepted += 1
                defer { state.nextConnectionMode = nil }
                return (state.nextConnectionMode ?? state.mode, state.targetPort)
            }
            if mode == .refuse {
                close(client)
                continue
            }
            Thread.detachNewThread { [self] in self.serve(client: client, target: target, mode: mode) }
        }
    }

    private func serve(client: Int32, target: UInt16, mode: Mode) {
        let server = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        var addr = sockaddr_in()
        addr.sin_family = sa_family_t(AF_INET)
        addr.sin_port = target.bigEndian
        addr.sin_addr.s_addr = inet_addr("127.0.0.1")
        let connected = withUnsafePointer(to: &addr) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(server, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        guard connected == 0 else {
            close(client)
            close(server)
            return
        }
        self.state.withLock { $0.open += [client, server] }
        defer {
            self.state.withLock { $0.closed += 1 }
            shutdown(client, Int32(SHUT_RDWR))
            shutdown(server, Int32(SHUT_RDWR))
            close(client)
            close(server)
        }
        var fds = [pollfd(fd: client, events: Int16(POLLIN), revents: 0), pollfd(fd: server, events: Int16(POLLIN), revents: 0)]
        var buffer = [UInt8](repeating: 0, count: 65536)
        var serverFrames = ServerFrameCounter()
        while true {
            guard poll(&fds, 2, 10_000) > 0 else { return }
            for (index, pfd) in fds.enumerated() where pfd.revents != 0 {
                let from = index == 0 ? client : server
                let to = index == 0 ? server : client
                let n = buffer.withUnsafeMutableBytes { read(from, $0.baseAddress, $0.count) }
                guard n > 0 else { return }
                var forward = n
                if index == 1, case .cutAfterServerFrames(let limit) = mode {
                    forward = serverFrames.bytesWithin(frames: limit, chunk: buffer[0..<n])
                }
                if case .delay(let millis) = mode { usleep(UInt32(millis * 1000)) }
                if forward > 0 {
                    let sent = buffer.withUnsafeBytes { send(to, $0.baseAddress, forward, Int32(MSG_NOSIGNAL)) }
                    guard sent == forward else { return }
                }
                if forward < n { return }
            }
        }
    }
}

/// Counts whole frames in the server's byte stream, to cut it right after frame N.
private struct ServerFrameCounter {
    private var frames = 0
    private var header: [UInt8] = []
    private var remainingBody = 0

    /// How many bytes of `chunk` still belong to the first `frames` frames.
    mutating func bytesWithin(frames limit: Int, chunk: ArraySlice<UInt8>) -> Int {
        var taken = 0
        for byte in chunk {
            if self.frames >= limit { return taken }
            taken += 1
            if self.remainingBody > 0 {
                self.remainingBody -= 1
                if self.remainingBody == 0 { self.frames += 1 }
            } else {
                self.header.append(byte)
                if self.header.count == 4 {
                    self.remainingBody = self.header.reduce(0) { $0 << 8 | Int($1) }
                    self.header = []
                    if self.remainingBody == 0 { self.frames += 1 }
                }
            }
        }
        return taken
    }
}
