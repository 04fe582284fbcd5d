import Foundation

/// Sizes as people write them in a site file: `16MiB`, `512KiB`, `1GiB`, or a whole number of bytes.
public enum ByteSizeText {
    static let units: [(name: String, bytes: Int)] = [("KiB", 1 << 10), ("MiB", 1 << 20), ("GiB", 1 << 30)]

    /// Parses `text`; nil when it is not a size.
    public static func parse(_ text: String) -> Int? {
        let trimmed = text.trimmingCharacters(in: .whitespaces)
        if let bytes = Int(trimmed), bytes >= 0 { return bytes }
        for (name, size) in units where trimmed.hasSuffix(name) {
            guard let number = Int(trimmed.dropLast(name.count).trimmingCharacters(in: .whitespaces)), number >= 0,
                number <= Int.max / size
            else { return nil }
            return number * size
        }
        return nil
    }

    /// The largest whole unit: `16MiB`, `1500` (bytes).
    public static func format(_ bytes: Int) -> String {
        for (name, size) in units.reversed() where bytes >= size && bytes % size == 0 { return "\(bytes / size)\(name)" }
        return "\(bytes)"
    }
}
