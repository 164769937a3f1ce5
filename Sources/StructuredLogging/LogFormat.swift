/// How a log record is rendered as one line of text.
public enum LogFormat: String, CaseIterable, Sendable {
    /// One JSON object per line: `{"ts":…,"level":…,"logger":…,"msg":…, metadata…}`.
    case json
    /// logfmt: `ts=… level=info logger=… msg="…" key=value`.
    case logfmt
    /// For people reading a terminal: `2026-01-01T00:00:00.000Z INFO [label] message key=value`.
    case text
}
