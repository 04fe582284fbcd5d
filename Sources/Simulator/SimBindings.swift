/// How one device's points and commands map onto its zone's model: the data-driven glue between a
/// profile and the physics.
///
/// A profile (phase 2) writes `simulate: room_temperature` on a point and `simulate: open_feed[1]`
/// on a command; the loader hands those texts over as plain dictionaries. Keys are point names, or
/// `point.bit` for one named bit of a `bits` point, and command names.
public struct SimBindings: Sendable, Hashable {
    /// Point (or `point.bit`) → quantity.
    public var points: [String: SimQuantity]
    /// Command → effect.
    public var commands: [String: SimEffect]

    public init(points: [String: SimQuantity] = [:], commands: [String: SimEffect] = [:]) {
        self.points = points
        self.commands = commands
    }

    /// Parses the `simulate:` texts of a profile. The first bad text (in key order) is thrown with
    /// its key set, so the caller can add the file and line it knows.
    public init(points: [String: String], commands: [String: String]) throws(BindingError) {
        var parsedPoints: [String: SimQuantity] = [:]
        for key in points.keys.sorted() {
            do {
                parsedPoints[key] = try SimQuantity(parsing: points[key]!)
            } catch {
                var keyed = error
                keyed.key = key
                throw keyed
            }
        }
        var parsedCommands: [String: SimEffect] = [:]
        for key in commands.keys.sorted() {
            do {
                parsedCommands[key] = try SimEffect(parsing: commands[key]!)
            } catch {
                var keyed = error
                keyed.key = key
                throw keyed
            }
        }
        self.points = parsedPoints
        self.commands = parsedCommands
    }
}
