import CModbus
import Synchronization

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// One client connection of the server, with its input buffer.
private final class Peer {
    /// Room for several pipelined frames; one MBAP frame is at most 260 bytes.
    static let capacity = 2048

    let fd: Int32
    let buffer = UnsafeMutablePointer<UInt8>.allocate(capacity: Peer.capacity)
    var used = 0
    var lastActivity: ContinuousClock.Instant
    /// Since when the buffer holds an incomplete frame.
    var partialSince: ContinuousClock.Instant?
    /// A configured delay holds the first frame until then.
    var delayedUntil: ContinuousClock.Instant?
    /// The first frame already waited out its delay.
    var delayServed = false
    var isClosed = false

    init(fd: Int32, now: ContinuousClock.Instant) {
        self.fd = fd
        self.lastActivity = now
    }

    deinit { buffer.deallocate() }
}

/// The server thread: a poll() loop over the listening socket, a wake-up pipe and the connections.
// @unchecked: built by Server.init, then handed to the server thread, the only one that ever touches it.
final class ServerLoop: @unchecked Sendable {
    private let listenFD: Int32
    private let wakeFD: Int32
    private let replyContext: OpaquePointer
    private let shared: ServerShared
    private let layout: RegisterLayout
    private let options: Server.Options
    private var peers: [Peer] = []

    init(
        listenFD: Int32, wakeFD: Int32, replyContext: OpaquePointer, shared: ServerShared, layout: RegisterLayout,
        options: Server.Options
    ) {
        self.listenFD = listenFD
        self.wakeFD = wakeFD
        self.replyContext = replyContext
        self.shared = shared
        self.layout = layout
        self.options = options
    }

    func run() {
        // poll(), not select(): no FD_SETSIZE limit, so any descriptor number is safe.
        var fds: [pollfd] = []
        while !shared.stopping.load(ordering: .acquiring) {
            fds.removeAll(keepingCapacity: true)
            fds.append(pollfd(fd: listenFD, events: Int16(POLLIN), revents: 0))
            fds.append(pollfd(fd: wakeFD, events: Int16(POLLIN), revents: 0))
            for peer in peers {
                // A full buffer (or a held frame) stops reading: TCP flow control then slows the client down.
                let wantsInput = peer.used < Peer.capacity && peer.delayedUntil == nil
                fds.append(pollfd(fd: peer.fd, events: wantsInput ? Int16(POLLIN) : 0, revents: 0))
            }
            let ready = poll(&fds, nfds_t(fds.count), pollTimeout(now: .now))
            if ready < 0 && fw_errno() != EINTR { break }
            let now = ContinuousClock.now
            if fds[1].revents != 0 { drainWake() }
            for (index, peer) in peers.enumerated() where fds[index + 2].revents != 0 {
                receive(peer, now: now)
            }
            for peer in peers where !peer.isClosed { checkTimers(peer, now: now) }
            peers.removeAll { $0.isClosed }
            if fds[0].revents != 0 { acceptAll(now: now) }
        }
        for peer in peers { Glibc.close(peer.fd) }
        peers.removeAll()
        Glibc.close(listenFD)
        Glibc.close(wakeFD)
        modbus_free(replyContext)
    }

    private func pollTimeout(now: ContinuousClock.Instant) -> Int32 {
        var deadline = now + .seconds(1)
        for peer in peers {
            if let until = peer.delayedUntil { deadline = min(deadline, until) }
            if let since = peer.partialSince { deadline = min(deadline, since + options.frameTimeout) }
            if let idle = options.idleTimeout { deadline = min(deadline, peer.lastActivity + idle) }
        }
        let (seconds, attoseconds) = (deadline - now).components
        return Int32(clamping: max(0, seconds * 1000 + (attoseconds + 999_999_999_999_999) / 1_000_000_000_000_000))
    }

    private func drainWake() {
        var bytes = [UInt8](repeating: 0, count: 64)
        while read(wakeFD, &bytes, bytes.count) > 0 {}
    }

    private func acceptAll(now: ContinuousClock.Instant) {
        // Bounded, so a storm of connections cannot starve the served ones.
        for _ in 0..<64 {
            let fd = fw_tcp_accept(listenFD)
            if fd < 0 { return }
            if peers.count >= options.maxConnections {
                shared.rejected.add(1, ordering: .relaxed)
                Glibc.close(fd)
                continue
            }
            peers.append(Peer(fd: fd, now: now))
            shared.accepted.add(1, ordering: .relaxed)
        }
    }

    private func drop(_ peer: Peer) {
        guard !peer.isClosed else { return }
        peer.isClosed = true
        // Counted before closing, so whoever sees the close also sees the count.
        shared.dropped.add(1, ordering: .relaxed)
        Glibc.close(peer.fd)
    }

    private func receive(_ peer: Peer, now: ContinuousClock.Instant) {
        var peerClosed = false
        while peer.used < Peer.capacity {
            let count = recv(peer.fd, peer.buffer + peer.used, Peer.capacity - peer.used, 0)
            if count > 0 {
                peer.used += count
                peer.lastActivity = now
                continue
            }
            if count == 0 {
                peerClosed = true
            } else {
                let number = fw_errno()
                if number == EINTR { continue }
                if number != EAGAIN && number != EWOULDBLOCK { peerClosed = true }
            }
            break
        }
        processFrames(peer, now: now)
        if peerClosed && !peer.isClosed {
            peer.isClosed = true
            Glibc.close(peer.fd)
        }
    }

    private func checkTimers(_ peer: Peer, now: ContinuousClock.Instant) {
        if let until = peer.delayedUntil, until <= now {
            peer.delayedUntil = nil
            peer.delayServed = true
            processFrames(peer, now: now)
            if peer.isClosed { return }
        }
        if let since = peer.partialSince, now - since >= options.frameTimeout {
            drop(peer)
        } else if let idle = options.idleTimeout, peer.delayedUntil == nil, now - peer.lastActivity >= idle {
            drop(peer)
        }
    }

    /// Handles every complete frame in the buffer, in order.
    private func processFrames(_ peer: Peer, now: ContinuousClock.Instant) {
        var consumed = 0
        while !peer.isClosed && peer.delayedUntil == nil {
            let frame = peer.buffer + consumed
            let available = peer.used - consumed
            if available < 7 { break }
            let protocolID = Int(frame[2]) << 8 | Int(frame[3])
            let length = Int(frame[4]) << 8 | Int(frame[5])
            // The MBAP length counts the unit id and the PDU: 2…254. Outside that, or with a foreign protocol
            // id, the byte stream cannot be trusted to find the next frame, so the connection goes.
            if protocolID != 0 || length < 2 || length > 254 {
                drop(peer)
                return
            }
            let total = 6 + length
            if available < total { break }
            switch handle(peer, frame, total, now: now) {
            case .done:
                consumed += total
                peer.delayServed = false
                shared.requests.add(1, ordering: .relaxed)
            case .held:
                break
            case .drop:
                drop(peer)
                return
            }
        }
        if consumed > 0 {
            peer.used -= consumed
            if peer.used > 0 { peer.buffer.update(from: peer.buffer + consumed, count: peer.used) }
            peer.partialSince = peer.used > 0 ? now : nil
        } else if peer.used > 0 && peer.partialSince == nil && peer.delayedUntil == nil {
            peer.partialSince = now
        }
        if peer.delayedUntil != nil { peer.partialSince = nil }
    }

    private enum Outcome { case done, held, drop }

    private enum Action {
        case replied(rc: Int32, errno: Int32, written: (UInt8, Table, Int, [UInt16])?)
        case exception(ModbusException)
        case delay(Duration)
        case silent
    }

    /// One complete frame of `total` bytes (MBAP header included).
    private func handle(_ peer: Peer, _ frame: UnsafeMutablePointer<UInt8>, _ total: Int, now: ContinuousClock.Instant)
        -> Outcome
    {
        let unit = frame[6]
        let function = frame[7]
        let pduLength = total - 7
        func word(_ offset: Int) -> Int { Int(frame[offset]) << 8 | Int(frame[offset + 1]) }

        // Quantities and byte counts against the frame length, before libmodbus sees the frame.
        var problem: ModbusException?
        switch function {
        case 1, 2, 3, 4:
            let limit = function <= 2 ? Limits.readBits : Limits.readRegisters
            if pduLength != 5 || !(1...limit).contains(word(10)) { problem = .illegalDataValue }
        case 5:
            if pduLength != 5 || (word(10) != 0 && word(10) != 0xFF00) { problem = .illegalDataValue }
        case 6:
            if pduLength != 5 { problem = .illegalDataValue }
        case 15, 16:
            if pduLength < 6 {
                problem = .illegalDataValue
            } else {
                let quantity = word(10)
                let byteCount = Int(frame[12])
                let (limit, expected) =
                    function == 15 ? (Limits.writeBits, (quantity + 7) / 8) : (Limits.writeRegisters, quantity * 2)
                if !(1...limit).contains(quantity) || byteCount != expected || pduLength != 6 + byteCount {
                    problem = .illegalDataValue
                }
            }
        case 23:
            if pduLength < 10 {
                problem = .illegalDataValue
            } else {
                let byteCount = Int(frame[16])
                if !(1...Limits.readRegisters).contains(word(10)) || !(1...Limits.readWriteRegisters).contains(word(14))
                    || byteCount != word(14) * 2 || pduLength != 10 + byteCount
                {
                    problem = .illegalDataValue
                }
            }
        default:
            problem = .illegalFunction
        }
        if let problem { return sendException(peer, frame, problem) }

        let holding = layout.holdingRegisters
        let context = replyContext
        let delayServed = peer.delayServed
        let action: Action = shared.store.withLock { store in
            switch store.fault(for: unit) {
            case .delay(let duration) where !delayServed: return .delay(duration)
            case .silent: return .silent
            case .exception(let exception): return .exception(exception)
            default: break
            }
            guard let map = store.map(wire: unit) else { return .exception(.gatewayTargetFailed) }
            if function == 23 {
                // 3.1.6 checks these ranges itself, but this is the function of CVE-2022-0367: check anyway.
                let read = word(8)..<word(8) + word(10)
                let write = word(12)..<word(12) + word(14)
                if !holding.contains(read.lowerBound) || read.upperBound > holding.upperBound
                    || !holding.contains(write.lowerBound) || write.upperBound > holding.upperBound
                {
                    return .exception(.illegalDataAddress)
                }
            }
            modbus_set_socket(context, peer.fd)
            fw_clear_errno()
            let rc = modbus_reply(context, frame, Int32(total), map.pointer)
            let number = rc < 0 ? fw_errno() : 0
            modbus_set_socket(context, -1)
            var written: (UInt8, Table, Int, [UInt16])?
            if rc >= 0, let (table, address, count) = Self.writeTarget(function, word) {
                let range = layout.range(table)
                if address >= range.lowerBound && address + count <= range.upperBound {
                    written = (
                        unit, table, address, map.values(table, offset: address - range.lowerBound, count: count)
                    )
                }
            }
            return .replied(rc: rc, errno: number, written: written)
        }
        switch action {
        case .replied(let rc, _, let written):
            // A failed or partial send means the peer is gone or does not read: drop it.
            if rc < 0 { return .drop }
            if let written, let hook = shared.hook { hook(written.0, written.1, written.2, written.3) }
            return .done
        case .exception(let exception):
            return sendException(peer, frame, exception)
        case .delay(let duration):
            peer.delayedUntil = now + duration
            return .held
        case .silent:
            return .done
        }
    }

    /// The table, first address and count a write function changes.
    private static func writeTarget(_ function: UInt8, _ word: (Int) -> Int) -> (Table, Int, Int)? {
        switch function {
        case 5: return (.coil, word(8), 1)
        case 6: return (.holding, word(8), 1)
        case 15: return (.coil, word(8), word(10))
        case 16: return (.holding, word(8), word(10))
        case 23: return (.holding, word(12), word(14))
        default: return nil
        }
    }

    /// Builds and sends an exception response (libmodbus 3.1.6 would sleep, flush or stay silent instead).
    private func sendException(_ peer: Peer, _ frame: UnsafeMutablePointer<UInt8>, _ exception: ModbusException)
        -> Outcome
    {
        shared.exceptions.add(1, ordering: .relaxed)
        let response: [UInt8] = [frame[0], frame[1], 0, 0, 0, 3, frame[6], frame[7] | 0x80, exception.rawValue]
        return fw_send(peer.fd, response, UInt(response.count)) == response.count ? .done : .drop
    }
}
