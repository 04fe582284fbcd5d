/// The version FireWatch reports in `--version`, `daemon.started` records and metrics.
public enum BuildInfo {
    public static let version = "0.1.0"
}
