import Logging

/// One log record, already redacted, ready to be rendered.
struct LogRecord {
    var timestamp: String
    var level: Logger.Level
    var label: String
    var message: String
    /// Metadata sorted by key.
    var fields: [(key: String, value: Logger.MetadataValue)]
}

/// Renders a ``LogRecord`` as exactly one line (no newline inside) in a ``LogFormat``.
enum LogLineRenderer {
    /// Keys the JSON and logfmt formats use for the record itself; metadata with these names gets a prefix.
    static let reservedKeys: Set<String> = ["ts", "level", "logger", "msg"]
    static let collisionPrefix = "meta."

    static func render(_ record: LogRecord, as format: LogFormat) -> String {
        switch format {
        case .json: json(record)
        case .logfmt: logfmt(record)
        case .text: text(record)
        }
    }

    // MARK: JSON lines

    private static func json(_ record: LogRecord) -> String {
        var line = "{\"ts\":"
        JSONText.appendString(record.timestamp, to: &line)
        line += ",\"level\":"
        JSONText.appendString(record.level.rawValue, to: &line)
        line += ",\"logger\":"
        JSONText.appendString(record.label, to: &line)
        line += ",\"msg\":"
        JSONText.appendString(record.message, to: &line)
        for (key, value) in record.fields {
            line += ","
            JSONText.appendString(reservedKeys.contains(key) ? collisionPrefix + key : key, to: &line)
            line += ":"
            JSONText.appendValue(value, to: &line)
        }
        line += "}"
        return line
    }

    // MARK: logfmt

    private static func logfmt(_ record: LogRecord) -> String {
        var line = "ts=" + record.timestamp
        line += " level=" + record.level.rawValue
        line += " logger=" + Logfmt.value(record.label)
        line += " msg=" + Logfmt.quoted(record.message)
        for (key, value) in record.fields {
            let name = reservedKeys.contains(key) ? collisionPrefix + key : key
            line += " " + Logfmt.key(name) + "=" + Logfmt.value(Logfmt.flatten(value))
        }
        return line
    }

    // MARK: text

    private static func text(_ record: LogRecord) -> String {
        var line = record.timestamp + " " + record.level.rawValue.uppercased() + " [" + record.label + "] "
        line += Logfmt.escapingLineBreaks(record.message)
        for (key, value) in record.fields {
            line += " " + Logfmt.key(key) + "=" + Logfmt.value(Logfmt.flatten(value))
        }
        return line
    }
}

/// JSON string and value writing with escaping for quotes, backslashes and control characters.
enum JSONText {
    static func appendString(_ text: String, to output: inout String) {
        output.unicodeScalars.append("\"")
        for scalar in text.unicodeScalars {
            switch scalar {
            case "\"": output += "\\\""
            case "\\": output += "\\\\"
            case "\n": output += "\\n"
            case "\r": output += "\\r"
            case "\t": output += "\\t"
            case "\u{08}": output += "\\b"
            case "\u{0C}": output += "\\f"
            case "\u{2028}": output += "\\u2028"
            case "\u{2029}": output += "\\u2029"
            default:
                if scalar.value < 0x20 || scalar.value == 0x7F {
                    let hex = String(scalar.value, radix: 16)
                    output += "\\u" + String(repeating: "0", count: 4 - hex.count) + hex
                } else {
                    output.unicodeScalars.append(scalar)
                }
            }
        }
        output.unicodeScalars.append("\"")
    }

    static func appendValue(_ value: Logger.MetadataValue, to output: inout String) {
        switch value {
        case .string(let text):
            appendString(text, to: &output)
        case .stringConvertible(let convertible):
            appendString(convertible.description, to: &output)
        case .array(let elements):
            output += "["
            for (index, element) in elements.enumerated() {
                if index > 0 { output += "," }
                appendValue(element, to: &output)
            }
            output += "]"
        case .dictionary(let dictionary):
            output += "{"
            for (index, key) in dictionary.keys.sorted().enumerated() {
                if index > 0 { output += "," }
                appendString(key, to: &output)
                output += ":"
                appendValue(dictionary[key]!, to: &output)
            }
            output += "}"
        }
    }

    static func encode(_ value: Logger.MetadataValue) -> String {
        var output = ""
        appendValue(value, to: &output)
        return output
    }
}

/// logfmt keys and values: values are quoted when empty or when they hold spaces, `=`, quotes or control
/// characters; nested metadata is written as compact JSON.
enum Logfmt {
    static func flatten(_ value: Logger.MetadataValue) -> String {
        switch value {
        case .string(let text): text
        case .stringConvertible(let convertible): convertible.description
        case .array, .dictionary: JSONText.encode(value)
        }
    }

    static func value(_ text: String) -> String {
        needsQuotes(text) ? quoted(text) : text
    }

    static func quoted(_ text: String) -> String {
        var output = "\""
        for scalar in text.unicodeScalars {
            switch scalar {
            case "\"": output += "\\\""
            case "\\": output += "\\\\"
            case "\n": output += "\\n"
            case "\r": output += "\\r"
            case "\t": output += "\\t"
            default:
                if scalar.value < 0x20 || scalar.value == 0x7F {
                    output += "\\u{" + String(scalar.value, radix: 16) + "}"
                } else {
                    output.unicodeScalars.append(scalar)
                }
            }
        }
        return output + "\""
    }

    /// A key with everything but printable non-space characters other than `=` and `"` replaced by `_`.
    static func key(_ name: String) -> String {
        guard !name.isEmpty else { return "_" }
        var output = ""
        for scalar in name.unicodeScalars {
            if scalar.value <= 0x20 || scalar.value == 0x7F || scalar == "=" || scalar == "\"" {
                output += "_"
            } else {
                output.unicodeScalars.append(scalar)
            }
        }
        return output
    }

    /// `text` on one line: line breaks become `\n` / `\r`.
    static func escapingLineBreaks(_ text: String) -> String {
        guard text.contains(where: { $0.isNewline }) else { return text }
        var output = ""
        for scalar in text.unicodeScalars {
            switch scalar {
            case "\n": output += "\\n"
            case "\r": output += "\\r"
            case "\u{0B}", "\u{0C}", "\u{85}", "\u{2028}", "\u{2029}":
                output += "\\u{" + String(scalar.value, radix: 16) + "}"
            default: output.unicodeScalars.append(scalar)
            }
        }
        return output
    }

    private static func needsQuotes(_ text: String) -> Bool {
        if text.isEmpty { return true }
        for scalar in text.unicodeScalars {
            if scalar.value <= 0x20 || scalar.value == 0x7F || scalar == "=" || scalar == "\"" || scalar == "\\"
                || scalar == "\u{85}" || scalar == "\u{2028}" || scalar == "\u{2029}"
            {
                return true
            }
        }
        return false
    }
}
