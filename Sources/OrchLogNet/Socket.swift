#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Thin wrappers over the socket system calls orchlog needs. Every socket is non-blocking and
/// close-on-exec; failures throw `SocketError`.
package enum Socket {
    /// A bound, listening, non-blocking socket and the port it got (useful with port 0).
    package static func listen(on address: SocketAddress, backlog: Int32 = 1024) throws(SocketError) -> (fd: Int32, port: UInt16) {
        let fd = socket(address.socketFamily, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard fd >= 0 else { throw SocketError("socket", errno: errno) }
        do throws(SocketError) {
            var one: Int32 = 1
            setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, socklen_t(MemoryLayout<Int32>.size))
            let rc = address.withSockAddr { bind(fd, $0, $1) }
            guard rc == 0 else { throw SocketError("bind \(address)", errno: errno) }
            guard Glibc.listen(fd, backlog) == 0 else { throw SocketError("listen", errno: errno) }
            try setNonBlocking(fd)
            return (fd, try localPort(fd))
        } catch {
            Glibc.close(fd)
            throw error
        }
    }

    /// Accepts one pending connection as a non-blocking socket with TCP_NODELAY, or `nil` when
    /// none is pending.
    package static func accept(_ listener: Int32) throws(SocketError) -> Int32? {
        while true {
            let fd = Glibc.accept(listener, nil, nil)
            if fd >= 0 {
                _ = fcntl(fd, F_SETFD, FD_CLOEXEC)
                do throws(SocketError) {
                    try setNonBlocking(fd)
                } catch {
                    Glibc.close(fd)
                    throw error
                }
                setNoDelay(fd)
                setKeepAlive(fd)
                return fd
            }
            switch errno {
            case EINTR, ECONNABORTED: continue
            case EAGAIN, EWOULDBLOCK: return nil
            default: throw SocketError("accept", errno: errno)
            }
        }
    }

    /// Connects to `address` within `timeoutMillis` and returns a non-blocking socket, blocking
    /// the calling thread meanwhile (the bench's load generator; the client waits on its event
    /// loop instead, with `EventLoop.connect`).
    package static func connect(to address: SocketAddress, timeoutMillis: Int32) throws(SocketError) -> Int32 {
        let (fd, connected) = try startConnect(to: address)
        if connected { return fd }
        var pfd = pollfd(fd: fd, events: Int16(POLLOUT), revents: 0)
        let ready = poll(&pfd, 1, timeoutMillis)
        do throws(SocketError) {
            guard ready > 0 else { throw SocketError("connect \(address)", errno: ready == 0 ? ETIMEDOUT : errno) }
            try finishConnect(fd, to: address)
            return fd
        } catch {
            Glibc.close(fd)
            throw error
        }
    }

    /// A non-blocking socket with its connect to `address` begun: `connected` when it completed
    /// at once, otherwise it completes when the socket turns writable (then `finishConnect`).
    static func startConnect(to address: SocketAddress) throws(SocketError) -> (fd: Int32, connected: Bool) {
        let fd = socket(address.socketFamily, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard fd >= 0 else { throw SocketError("socket", errno: errno) }
        do throws(SocketError) {
            try setNonBlocking(fd)
            setKeepAlive(fd)
            let rc = address.withSockAddr { Glibc.connect(fd, $0, $1) }
            if rc == 0 {
                setNoDelay(fd)
                return (fd, true)
            }
            guard errno == EINPROGRESS else { throw SocketError("connect \(address)", errno: errno) }
            return (fd, false)
        } catch {
            Glibc.close(fd)
            throw error
        }
    }

    /// Checks the outcome of a connect that `startConnect` left in progress, once the socket is
    /// writable; the caller still owns (and on failure closes) `fd`.
    static func finishConnect(_ fd: Int32, to address: SocketAddress) throws(SocketError) {
        let error = pendingError(fd)
        guard error == 0 else { throw SocketError("connect \(address)", errno: error) }
        setNoDelay(fd)
    }

    /// The error a socket reported asynchronously (`SO_ERROR`), or 0.
    static func pendingError(_ fd: Int32) -> Int32 {
        var error: Int32 = 0
        var len = socklen_t(MemoryLayout<Int32>.size)
        getsockopt(fd, SOL_SOCKET, SO_ERROR, &error, &len)
        return error
    }

    static func setNonBlocking(_ fd: Int32) throws(SocketError) {
        let flags = fcntl(fd, F_GETFL)
        guard flags >= 0, fcntl(fd, F_SETFL, flags | O_NONBLOCK) == 0 else { throw SocketError("fcntl", errno: errno) }
    }

    /// TCP keepalive: a peer that vanished (no FIN, no RST) is noticed after about two minutes
    /// even while it holds a quiet follow stream open.
    static func setKeepAlive(_ fd: Int32) {
        var one: Int32 = 1
        var idle: Int32 = 60
        var interval: Int32 = 10
        var count: Int32 = 6
        let size = socklen_t(MemoryLayout<Int32>.size)
        setsockopt(fd, SOL_SOCKET, SO_KEEPALIVE, &one, size)
        setsockopt(fd, Int32(IPPROTO_TCP), TCP_KEEPIDLE, &idle, size)
        setsockopt(fd, Int32(IPPROTO_TCP), TCP_KEEPINTVL, &interval, size)
        setsockopt(fd, Int32(IPPROTO_TCP), TCP_KEEPCNT, &count, size)
    }

    static func setNoDelay(_ fd: Int32) {
        var one: Int32 = 1
        setsockopt(fd, Int32(IPPROTO_TCP), TCP_NODELAY, &one, socklen_t(MemoryLayout<Int32>.size))
    }

    static func localPort(_ fd: Int32) throws(SocketError) -> UInt16 {
        var storage = sockaddr_storage()
        var len = socklen_t(MemoryLayout<sockaddr_storage>.size)
        let rc = withUnsafeMutablePointer(to: &storage) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &len) }
        }
        guard rc == 0 else { throw SocketError("getsockname", errno: errno) }
        let family = storage.ss_family
        return withUnsafePointer(to: &storage) { ptr in
            if family == sa_family_t(AF_INET6) {
                return ptr.withMemoryRebound(to: sockaddr_in6.self, capacity: 1) { UInt16(bigEndian: $0.pointee.sin6_port) }
            }
            return ptr.withMemoryRebound(to: sockaddr_in.self, capacity: 1) { UInt16(bigEndian: $0.pointee.sin_port) }
        }
    }
}
