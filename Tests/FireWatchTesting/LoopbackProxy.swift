import Foundation

/// A TCP proxy on a free 127.0.0.1 port that forwards to `127.0.0.1:target` until the test cuts it: then every
/// connection through it is closed, and new ones are accepted and held without an answer, as a partitioned
/// network looks to a client (its requests time out). `restore()` forwards again.
///
/// Threads and blocking sockets: two per connection, one for accepting. For a handful of connections in a test.
public final class LoopbackProxy: @unchecked Sendable {
    // @unchecked: the mutable state is only touched under `lock`.
    public let port: Int
    public let target: Int
    private let listener: Int32
    private let lock = NSLock()
    private var open: [Int32] = []
    private var held: [Int32] = []
    private var isCut = false
    private var closed = false

    public init(target: Int) throws {
        self.target = target
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { throw ProxyError("socket: errno \(errno)") }
        var yes: Int32 = 1
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &yes, socklen_t(MemoryLayout<Int32>.size))
        var address = Self.loopback(port: 0)
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let bound = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { pointer in
                bind(fd, pointer, length) == 0 && getsockname(fd, pointer, &length) == 0
            }
        }
        guard bound, listen(fd, 16) == 0 else {
            Glibc.close(fd)
            throw ProxyError("cannot listen on 127.0.0.1:0: errno \(errno)")
        }
        listener = fd
        port = Int(UInt16(bigEndian: address.sin_port))
        let thread = Thread { [self] in acceptLoop() }
        thread.name = "proxy-accept"
        thread.start()
    }

    deinit { close() }

    /// Closes every connection and holds new ones unanswered.
    public func cut() {
        // Under the lock: a socket still listed is not closed yet (its pair forgets it under the lock first).
        lock.withLock {
            isCut = true
            for fd in open { shutdown(fd, Int32(SHUT_RDWR)) }
        }
    }

    /// Forwards again; connections held while cut are closed (their clients connect anew).
    public func restore() {
        let sockets = lock.withLock { () -> [Int32] in
            isCut = false
            defer { held = [] }
            return held
        }
        for fd in sockets { Glibc.close(fd) }
    }

    public func close() {
        let sockets = lock.withLock { () -> [Int32]? in
            guard !closed else { return nil }
            closed = true
            for fd in open { shutdown(fd, Int32(SHUT_RDWR)) }
            defer { held = [] }
            return held
        }
        guard let sockets else { return }
        shutdown(listener, Int32(SHUT_RDWR))
        Glibc.close(listener)
        for fd in sockets { Glibc.close(fd) }
    }

    private func acceptLoop() {
        while true {
            let client = accept(listener, nil, nil)
            if client < 0 {
                if errno == EINTR { continue }
                return
            }
            let hold = lock.withLock { () -> Bool? in
                if closed { return nil }
                if isCut { held.append(client) }
                return isCut
            }
            guard let hold else {
                Glibc.close(client)
                return
            }
            if hold { continue }
            let upstream = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
            var address = Self.loopback(port: target)
            let connected = withUnsafePointer(to: &address) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                    connect(upstream, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) == 0
                }
            }
            guard connected else {
                Glibc.close(upstream)
                Glibc.close(client)
                continue
            }
            lock.withLock { open += [client, upstream] }
            let pair = Pair(client, upstream) { [self] in
                lock.withLock { open.removeAll { $0 == client || $0 == upstream } }
            }
            Self.pump(from: client, to: upstream, pair)
            Self.pump(from: upstream, to: client, pair)
        }
    }

    /// One connection's two sockets, closed when both of its pumps have ended.
    private final class Pair: @unchecked Sendable {
        // @unchecked: `running` is only touched under `lock`.
        let sockets: (Int32, Int32)
        let forget: () -> Void
        private let lock = NSLock()
        private var running = 2

        init(_ first: Int32, _ second: Int32, forget: @escaping () -> Void) {
            sockets = (first, second)
            self.forget = forget
        }

        func pumpEnded() {
            let last = lock.withLock { () -> Bool in
                running -= 1
                return running == 0
            }
            guard last else { return }
            forget()
            Glibc.close(sockets.0)
            Glibc.close(sockets.1)
        }
    }

    /// Copies `source` to `sink` until either ends, then shuts both down (the other pump ends too).
    private static func pump(from source: Int32, to sink: Int32, _ pair: Pair) {
        let thread = Thread {
            var buffer = [UInt8](repeating: 0, count: 16 * 1024)
            while true {
                let got = recv(source, &buffer, buffer.count, 0)
                if got <= 0 { break }
                var sent = 0
                while sent < got {
                    let count = buffer[sent..<got].withUnsafeBytes { send(sink, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
                    if count <= 0 { break }
                    sent += count
                }
                if sent < got { break }
            }
            shutdown(source, Int32(SHUT_RDWR))
            shutdown(sink, Int32(SHUT_RDWR))
            pair.pumpEnded()
        }
        thread.name = "proxy-pump"
        thread.start()
    }

    private static func loopback(port: Int) -> sockaddr_in {
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        address.sin_port = UInt16(port).bigEndian
        return address
    }
}

public struct ProxyError: Error, CustomStringConvertible {
    public var description: String
    init(_ description: String) { self.description = description }
}
