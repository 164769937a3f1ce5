/// Writes a decoder's coding path as a JSON path a person can read: `alerts[2].labels.severity`,
/// `alerts[0].labels["équipe"]`; the empty path (the whole body) is `$`.
enum JSONFieldPath {
    static let root = "$"

    static func render(_ codingPath: [any CodingKey]) -> String {
        var path = ""
        for key in codingPath {
            if let index = key.intValue {
                path += "[\(index)]"
            } else if isPlainName(key.stringValue) {
                path += path.isEmpty ? key.stringValue : "." + key.stringValue
            } else {
                path += "[\"" + key.stringValue.replacingQuotesAndBackslashes() + "\"]"
            }
        }
        return path.isEmpty ? root : path
    }

    /// `alerts[index]`.
    static func alert(_ index: Int) -> String {
        "alerts[\(index)]"
    }

    /// ASCII letters, digits and `_`, not starting with a digit.
    private static func isPlainName(_ name: String) -> Bool {
        guard let first = name.utf8.first, !(UInt8(ascii: "0")...UInt8(ascii: "9")).contains(first) else {
            return false
        }
        return name.utf8.allSatisfy { byte in
            (UInt8(ascii: "a")...UInt8(ascii: "z")).contains(byte) || (UInt8(ascii: "A")...UInt8(ascii: "Z")).contains(byte)
                || (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(byte) || byte == UInt8(ascii: "_")
        }
    }
}

extension String {
    fileprivate func replacingQuotesAndBackslashes() -> String {
        var output = ""
        for character in self {
            switch character {
            case "\\": output += "\\\\"
            case "\"": output += "\\\""
            default: output.append(character)
            }
        }
        return output
    }
}
