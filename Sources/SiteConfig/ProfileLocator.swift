import Foundation

/// Finds the file behind `profile: kind/name`.
///
/// Order: `devices/` beside the site file, then each `profile_path:` folder, then the profiles
/// FireWatch ships. The shipped folder is `$FIREWATCH_DEVICES` when set; otherwise it is found from
/// the executable: `<prefix>/share/firewatch/devices` for an installed binary (`<prefix>/bin/firewatch`),
/// or the `devices/` folder of the source checkout the binary was built in (`.build/debug/firewatch`).
public struct ProfileLocator: Sendable {
    /// Environment variable naming the folder of shipped profiles.
    public static let environmentVariable = "FIREWATCH_DEVICES"

    /// Folders searched in order, with what each is.
    public var folders: [(path: String, origin: ProfileOrigin)]

    public init(folders: [(path: String, origin: ProfileOrigin)]) { self.folders = folders }

    /// The search order for a site file in `siteDirectory` with the given `profile_path` folders (absolute).
    public init(siteDirectory: String?, profilePath: [String] = [], shipped: String?) {
        var folders: [(String, ProfileOrigin)] = []
        if let siteDirectory {
            folders.append(((siteDirectory as NSString).appendingPathComponent("devices"), .besideSite))
        }
        folders += profilePath.map { ($0, .profilePath($0)) }
        if let shipped { folders.append((shipped, .shipped)) }
        // The same folder twice (a site inside the repository) is searched once, under its first name.
        var seen: Set<String> = []
        self.folders = folders.filter { seen.insert(($0.0 as NSString).standardizingPath).inserted }
    }

    /// Whether a reference names a file rather than `kind/name`.
    public static func isFileReference(_ reference: String) -> Bool {
        reference.hasSuffix(".yaml") || reference.hasSuffix(".yml") || reference.hasPrefix("/")
            || reference.hasPrefix(".")
    }

    /// Whether a reference has the `kind/name` shape.
    public static func isKindName(_ reference: String) -> Bool {
        let parts = reference.split(separator: "/", omittingEmptySubsequences: false)
        return parts.count == 2 && parts.allSatisfy { Located.isName(String($0)) }
    }

    /// The first folder that has `kind/name.yaml`.
    public func locate(_ reference: String) -> (path: String, origin: ProfileOrigin)? {
        for (folder, origin) in folders {
            let path = (folder as NSString).appendingPathComponent(reference + ".yaml")
            if FileManager.default.fileExists(atPath: path) { return (path, origin) }
        }
        return nil
    }

    /// Every `kind/name` the folders offer, for "did you mean".
    public func available() -> [String] {
        var names: Set<String> = []
        for (folder, _) in folders {
            guard let kinds = try? FileManager.default.contentsOfDirectory(atPath: folder) else { continue }
            for kind in kinds {
                let kindPath = (folder as NSString).appendingPathComponent(kind)
                guard let files = try? FileManager.default.contentsOfDirectory(atPath: kindPath) else { continue }
                for file in files where file.hasSuffix(".yaml") { names.insert("\(kind)/\(file.dropLast(5))") }
            }
        }
        return names.sorted()
    }

    /// The folder of shipped profiles, or nil when none can be found.
    public static func shippedDevicesDirectory(
        environment: [String: String] = ProcessInfo.processInfo.environment,
        executablePath: String? = Bundle.main.executablePath
    ) -> String? {
        if let value = environment[environmentVariable], !value.isEmpty { return value }
        guard let executablePath else { return nil }
        let resolved = URL(fileURLWithPath: executablePath).resolvingSymlinksInPath()
        var directory = resolved.deletingLastPathComponent()
        let fm = FileManager.default
        let installed = directory.deletingLastPathComponent().appendingPathComponent("share/firewatch/devices").path
        if fm.fileExists(atPath: installed) { return installed }
        // A build tree sits at most a few levels below the checkout (.build/<triple>/debug/firewatch).
        for _ in 0..<6 {
            let candidate = directory.appendingPathComponent("devices").path
            if fm.fileExists(atPath: directory.appendingPathComponent("Package.swift").path),
                fm.fileExists(atPath: candidate)
            {
                return candidate
            }
            let parent = directory.deletingLastPathComponent()
            if parent.path == directory.path { break }
            directory = parent
        }
        return nil
    }
}
