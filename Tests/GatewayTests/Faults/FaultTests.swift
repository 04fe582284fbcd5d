import Testing

/// The faults a real site meets within a year (issue 13), each as real processes: `firewatch simulate` serving the
/// devices on 127.0.0.1 in real time, `firewatch run` watching them, the alert log read from disk.
///
/// Safety is judged on the simulator's own clock (monotonic, never faked): it stamps every write it receives, so
/// "release no earlier than the countdown" is `release − HVAC off ≥ delay` there (the countdown starts after HVAC
/// off is written and read back, so the bound can only be too strict by the few milliseconds of that readback).
/// Serialized, and run after the other suites by `make test`: each test runs two processes on a shared two-core
/// machine. The tests live in extensions, one file per fault.
@Suite("Faults, end to end", .serialized)
struct FaultTests {}
