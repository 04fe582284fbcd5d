import CModbus
import FireSafety
import Foundation
import Gateway
import Modbus
import SiteConfig
import Synchronization
import Testing

@testable import Simulator
import FireWatchTesting

/// The bundled example site, with the shipped profiles.
func loadExampleSite() throws -> LoadedSite {
    try SiteLoader(shippedDevices: Repository.root + "/devices").load(path: Repository.root + "/examples/site.yaml")
}

/// A client for a served device, with short timeouts and no reconnect backoff.
func client(for device: ServedDevice) -> Client {
    Client(
        host: "127.0.0.1", port: device.port, unit: UInt8(device.unit), responseTimeout: .seconds(2),
        byteTimeout: .milliseconds(500), reconnect: .immediate)
}


/// Whether a value decoded from the wire is the one the model serves (numbers to the point's resolution).
func sameValue(_ read: Value?, _ model: SimValue?, resolution: Double) -> Bool {
    switch (read, model) {
    case (.number(let a), .number(let b)?): return abs(a - b) <= resolution / 2 + 1e-9
    case (.name(let a), .name(let b)?): return a == b
    case (.flag(let a), .flag(let b)?): return a == b
    case (.number(let a), .flag(let b)?): return (a != 0) == b
    case (.flag(let a), .number(let b)?): return a == (b != 0)
    default: return false
    }
}

