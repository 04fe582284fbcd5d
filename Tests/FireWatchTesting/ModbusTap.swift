import Foundation
import Synchronization

/// A TCP proxy on a free 127.0.0.1 port that forwards to `127.0.0.1:target` and records every Modbus write
/// request a client sends through it: write single coil (5), write single register (6), write multiple coils
/// (15) and write multiple registers (16). Requests are parsed from the client's byte stream (MBAP framing, so a
/// frame split over several TCP segments or several frames in one are both found); every byte is forwarded
/// unchanged, both ways, reads included. A write is recorded before its bytes are forwarded, so once a client
/// has the server's answer the write is in ``writes``.
///
/// Requests that are not well formed (a byte count that does not match the quantity, a coil value other than
/// 0xFF00 or 0x0000, a protocol id other than 0) are forwarded but not recorded; after a length field no MBAP
/// frame can have, the rest of that connection is forwarded without being parsed.
///
/// Threads and blocking sockets, as ``LoopbackProxy``: two per connection, one for accepting. ``close()`` ends
/// them all and closes every socket before it returns.
public final class ModbusTap: Sendable {
    /// One write request as it went over the wire.
    public struct Write: Sendable, Hashable, CustomStringConvertible {
        public var unit: UInt8
        /// 5, 6, 15 or 16.
        public var function: UInt8
        /// The first coil or register.
        public var address: Int
        /// Register values, or coils as 0 or 1 each.
        public var values: [UInt16]
        /// When the tap read the frame's last byte.
        public var at: ContinuousClock.Instant

        public init(unit: UInt8, function: UInt8, address: Int, values: [UInt16], at: ContinuousClock.Instant) {
            self.unit = unit
            self.function = function
            self.address = address
            self.values = values
            self.at = at
        }

        public var description: String { "unit \(unit) function \(function) at \(address): \(values)" }
    }

    public static let writeSingleCoil: UInt8 = 5
    public static let writeSingleRegister: UInt8 = 6
    public static let writeMultipleCoils: UInt8 = 15
    public static let writeMultipleRegisters: UInt8 = 16

    public let port: Int
    public let target: Int
    private let core: Core

    public init(target: Int) throws {
        self.target = target
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
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
            let error = errno
            Glibc.close(fd)
            throw ProxyError("cannot listen on 127.0.0.1:0: errno \(error)")
        }
        port = Int(UInt16(bigEndian: address.sin_port))
        core = Core(listener: fd, port: port, target: target)
        core.start()
    }

    deinit { close() }

    /// Every write recorded so far, in the order the tap read them (across connections: the order their last
    /// bytes arrived).
    public var writes: [Write] { core.state.withLock { $0.writes } }

    /// The recorded writes that match every filter given.
    public func writes(function: UInt8? = nil, address: Int? = nil, unit: UInt8? = nil) -> [Write] {
        writes.filter {
            (function == nil || $0.function == function) && (address == nil || $0.address == address)
                && (unit == nil || $0.unit == unit)
        }
    }

    /// Connections currently forwarded.
    public var connections: Int { core.state.withLock { $0.open.count / 2 } }

    /// Stops listening, closes every connection and returns once every thread of the tap has ended (within a
    /// few seconds at worst). Idempotent; the recorded writes stay readable.
    public func close() {
        core.close()
    }

    fileprivate static func loopback(port: Int) -> sockaddr_in {
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        address.sin_port = UInt16(port).bigEndian
        return address
    }
}

extension ModbusTap {
    fileprivate struct State {
        var closed = false
        /// The sockets of every forwarded connection (two each), until both of its pumps have ended.
        var open: Set<Int32> = []
        var writes: [Write] = []
    }

    /// What the threads share (they hold this, not the tap, so the tap's deinit can close them).
    fileprivate final class Core: Sendable {
        let listener: Int32
        let port: Int
        let target: Int
        let state = Mutex(State())
        /// Entered by every thread of the tap, left as its very last step.
        let threads = DispatchGroup()

        init(listener: Int32, port: Int, target: Int) {
            self.listener = listener
            self.port = port
            self.target = target
        }

        func start() {
            threads.enter()
            let name = "mbtap-\(port)-a"
            let thread = Thread { [self] in
                // Named from inside: on Linux, a name set before start() never reaches the kernel's thread name.
                Thread.current.name = name
                acceptLoop()
                Glibc.close(listener)
                threads.leave()
            }
            thread.name = name
            thread.start()
        }

        func close() {
            let first = state.withLock { state -> Bool in
                guard !state.closed else { return false }
                state.closed = true
                // Under the lock: a socket still listed is not closed yet (its pair forgets it under the lock first).
                for fd in state.open { shutdown(fd, Int32(SHUT_RDWR)) }
                return true
            }
            // Wakes a blocked accept() (the accept thread closes the listener as it ends).
            if first { shutdown(listener, Int32(SHUT_RDWR)) }
            // Every socket is shut down, so every blocked call returns at once; the bound is for a tap gone wrong.
            _ = threads.wait(timeout: .now() + .seconds(5))
        }

        private var isClosed: Bool { state.withLock { $0.closed } }

        private func acceptLoop() {
            var ready = pollfd(fd: listener, events: Int16(POLLIN), revents: 0)
            while !isClosed {
                // A bounded wait, so the loop sees `closed` even if shutdown() did not wake it.
                let polled = poll(&ready, 1, 200)
                if polled < 0 && errno != EINTR { return }
                if polled <= 0 { continue }
                let client = accept(listener, nil, nil)
                if client < 0 {
                    if errno == EINTR || errno == EAGAIN || errno == ECONNABORTED { continue }
                    return
                }
                // Not inherited by the processes tests start (Glibc's module has no accept4).
                _ = fcntl(client, F_SETFD, FD_CLOEXEC)
                let upstream = socket(AF_INET, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
                var address = ModbusTap.loopback(port: target)
                let connected =
                    upstream >= 0
                    && withUnsafePointer(to: &address) {
                        $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                            connect(upstream, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) == 0
                        }
                    }
                guard connected else {
                    if upstream >= 0 { Glibc.close(upstream) }
                    Glibc.close(client)
                    continue
                }
                let kept = state.withLock { state -> Bool in
                    guard !state.closed else { return false }
                    state.open.formUnion([client, upstream])
                    return true
                }
                guard kept else {
                    Glibc.close(upstream)
                    Glibc.close(client)
                    return
                }
                let pair = Pair(client, upstream, core: self)
                pump(from: client, to: upstream, pair, parse: true)
                pump(from: upstream, to: client, pair, parse: false)
            }
        }

        /// Copies `source` to `sink` until either ends, then shuts both down (the other pump ends too). With
        /// `parse`, records the write requests in what it copies, each before its bytes are sent on.
        private func pump(from source: Int32, to sink: Int32, _ pair: Pair, parse: Bool) {
            threads.enter()
            let name = "mbtap-\(port)-p"
            let thread = Thread { [self] in
                Thread.current.name = name
                var requests = RequestStream()
                var buffer = [UInt8](repeating: 0, count: 16 * 1024)
                while true {
                    let got = recv(source, &buffer, buffer.count, 0)
                    if got < 0 && errno == EINTR { continue }
                    if got <= 0 { break }
                    if parse {
                        let found = requests.append(buffer[0..<got], at: .now)
                        if !found.isEmpty { state.withLock { $0.writes += found } }
                    }
                    var sent = 0
                    while sent < got {
                        let count = buffer[sent..<got].withUnsafeBytes {
                            send(sink, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL))
                        }
                        if count < 0 && errno == EINTR { continue }
                        if count <= 0 { break }
                        sent += count
                    }
                    if sent < got { break }
                }
                shutdown(source, Int32(SHUT_RDWR))
                shutdown(sink, Int32(SHUT_RDWR))
                pair.pumpEnded()
                threads.leave()
            }
            thread.name = name
            thread.start()
        }

        /// Called once per connection, after both pumps: unlists and closes its sockets.
        func forget(_ first: Int32, _ second: Int32) {
            state.withLock { $0.open.subtract([first, second]) }
            Glibc.close(first)
            Glibc.close(second)
        }
    }

    /// One connection's two sockets, closed when both of its pumps have ended.
    fileprivate final class Pair: Sendable {
        let sockets: (Int32, Int32)
        let core: Core
        private let running = Mutex(2)

        init(_ first: Int32, _ second: Int32, core: Core) {
            sockets = (first, second)
            self.core = core
        }

        func pumpEnded() {
            let last = running.withLock { running -> Bool in
                running -= 1
                return running == 0
            }
            if last { core.forget(sockets.0, sockets.1) }
        }
    }
}

/// The write requests in a client's byte stream, fed as it arrives in whatever pieces TCP delivers.
private struct RequestStream {
    private var buffer: [UInt8] = []
    /// A length no MBAP frame can have was seen: framing is lost, the rest is not parsed.
    private(set) var lost = false

    /// Adds `bytes` and returns the writes of every frame they complete.
    mutating func append(_ bytes: ArraySlice<UInt8>, at now: ContinuousClock.Instant) -> [ModbusTap.Write] {
        guard !lost else { return [] }
        buffer += bytes
        var writes: [ModbusTap.Write] = []
        var start = 0
        while buffer.count - start >= 7 {
            let length = Int(buffer[start + 4]) << 8 | Int(buffer[start + 5])
            // The length counts the unit id and the PDU: a function code at least, 253 PDU bytes at most.
            guard (2...254).contains(length) else {
                lost = true
                buffer = []
                return writes
            }
            let end = start + 6 + length
            guard buffer.count >= end else { break }
            let isModbus = buffer[start + 2] == 0 && buffer[start + 3] == 0
            if isModbus, let write = Self.write(unit: buffer[start + 6], pdu: buffer[(start + 7)..<end], at: now) {
                writes.append(write)
            }
            start = end
        }
        buffer.removeFirst(start)
        return writes
    }

    /// The write a request PDU asks for, or nil for reads, other functions and malformed writes.
    static func write(unit: UInt8, pdu: ArraySlice<UInt8>, at now: ContinuousClock.Instant) -> ModbusTap.Write? {
        let pdu = Array(pdu)
        guard pdu.count >= 5 else { return nil }
        func word(_ index: Int) -> UInt16 { UInt16(pdu[index]) << 8 | UInt16(pdu[index + 1]) }
        let function = pdu[0]
        let address = Int(word(1))
        let values: [UInt16]
        switch function {
        case ModbusTap.writeSingleCoil:
            guard pdu.count == 5 else { return nil }
            switch word(3) {
            case 0xFF00: values = [1]
            case 0x0000: values = [0]
            default: return nil
            }
        case ModbusTap.writeSingleRegister:
            guard pdu.count == 5 else { return nil }
            values = [word(3)]
        case ModbusTap.writeMultipleCoils:
            guard pdu.count >= 6 else { return nil }
            let quantity = Int(word(3))
            let byteCount = Int(pdu[5])
            guard quantity >= 1, byteCount == (quantity + 7) / 8, pdu.count == 6 + byteCount else { return nil }
            values = (0..<quantity).map { UInt16(pdu[6 + $0 / 8] >> UInt8($0 % 8) & 1) }
        case ModbusTap.writeMultipleRegisters:
            guard pdu.count >= 6 else { return nil }
            let quantity = Int(word(3))
            let byteCount = Int(pdu[5])
            guard quantity >= 1, byteCount == 2 * quantity, pdu.count == 6 + byteCount else { return nil }
            values = (0..<quantity).map { word(6 + 2 * $0) }
        default:
            return nil
        }
        return ModbusTap.Write(unit: unit, function: function, address: address, values: values, at: now)
    }
}
