/// A forward-only reader of one JSON document (RFC 8259) held in memory, for decoders that know the shape they
/// expect and build their values directly, without an intermediate tree.
///
/// Every value is checked as it is read or skipped, so a document is accepted only if it is valid JSON as a
/// whole. Errors carry the path of the member being read (maintained by ``readObject(_:)`` and
/// ``readArray(_:)``); syntax errors carry the root path, since a broken document has no meaningful one.
/// Nesting is limited to ``maximumDepth`` levels, so a hostile body cannot exhaust the stack.
struct JSONByteReader {
    /// What the next value is, from its first byte.
    enum ValueKind {
        case object, array, string, number, boolean, null
    }

    /// The deepest nesting of objects and arrays accepted.
    static let maximumDepth = 512

    private let bytes: UnsafeRawBufferPointer
    private var offset = 0
    private var depth = 0
    /// The path of the value being read.
    private(set) var path: [JSONPathComponent] = []
    /// The members of the string map being read, reused from one map to the next.
    private var mapMembers: [(String, String)] = []

    init(_ bytes: UnsafeRawBufferPointer) {
        self.bytes = bytes
        // A UTF-8 byte order mark is tolerated, as JSON parsers commonly do.
        if bytes.count >= 3, bytes[0] == 0xEF, bytes[1] == 0xBB, bytes[2] == 0xBF { offset = 3 }
    }

    // MARK: Errors

    /// A value of the wrong JSON type at the current path: `wrong type: expected a string`, or, for `null`,
    /// `must be a string, not null`.
    func wrongType(expected: String, found kind: ValueKind) -> WebhookDecodingError {
        if kind == .null { return WebhookDecodingError(reason: "must be \(expected), not null", path: path) }
        return WebhookDecodingError(reason: "wrong type: expected \(expected)", path: path)
    }

    /// A value of the right type that is not acceptable, at the current path.
    func invalidValue(_ reason: String) -> WebhookDecodingError {
        WebhookDecodingError(reason: reason, path: path)
    }

    /// A member that appears twice in one object, where which one counts would be a guess.
    func duplicateMember(_ name: String) -> WebhookDecodingError {
        WebhookDecodingError(reason: "this member appears more than once in its object", path: path)
    }

    /// `the body is not valid JSON: <problem> at line L, column C` for the current position.
    private func syntaxError(_ problem: String) -> WebhookDecodingError {
        var line = 1
        var lineStart = 0
        let end = min(offset, bytes.count)
        for index in 0..<end where bytes[index] == UInt8(ascii: "\n") {
            line += 1
            lineStart = index + 1
        }
        return WebhookDecodingError(
            reason: "the body is not valid JSON: \(problem) at line \(line), column \(end - lineStart + 1)",
            path: []
        )
    }

    private func unexpectedByteError() -> WebhookDecodingError {
        guard offset < bytes.count else { return syntaxError("unexpected end of the body") }
        let byte = bytes[offset]
        if byte >= 0x21 && byte < 0x7F {
            return syntaxError("unexpected character '\(Character(Unicode.Scalar(byte)))'")
        }
        return syntaxError("unexpected byte 0x\(String(byte, radix: 16, uppercase: true))")
    }

    // MARK: Structure

    /// The kind of the next value, after any whitespace.
    /// - Throws: a syntax error when no value starts here.
    mutating func peekKind() throws(WebhookDecodingError) -> ValueKind {
        skipWhitespace()
        guard offset < bytes.count else { throw syntaxError("unexpected end of the body") }
        switch bytes[offset] {
        case UInt8(ascii: "{"): return .object
        case UInt8(ascii: "["): return .array
        case UInt8(ascii: "\""): return .string
        case UInt8(ascii: "-"), UInt8(ascii: "0")...UInt8(ascii: "9"): return .number
        case UInt8(ascii: "t"), UInt8(ascii: "f"): return .boolean
        case UInt8(ascii: "n"): return .null
        default: throw unexpectedByteError()
        }
    }

    /// Reads an object, calling `member` once per member with the reader positioned at its value; `member` must
    /// read or skip that value. The path names the member while `member` runs.
    /// - Precondition: ``peekKind()`` returned `.object`.
    mutating func readObject(
        _ member: (inout JSONByteReader, String) throws(WebhookDecodingError) -> Void
    ) throws(WebhookDecodingError) {
        try enterContainer()
        skipWhitespace()
        if consume(UInt8(ascii: "}")) {
            depth -= 1
            return
        }
        while true {
            skipWhitespace()
            guard offset < bytes.count, bytes[offset] == UInt8(ascii: "\"") else {
                throw offset < bytes.count ? syntaxError("expected a member name in quotes") : unexpectedByteError()
            }
            let name = try readStringValue()
            skipWhitespace()
            guard consume(UInt8(ascii: ":")) else { throw unexpectedByteError() }
            path.append(.member(name))
            try member(&self, name)
            path.removeLast()
            skipWhitespace()
            if consume(UInt8(ascii: ",")) { continue }
            guard consume(UInt8(ascii: "}")) else { throw unexpectedByteError() }
            depth -= 1
            return
        }
    }

    /// Reads an array, calling `element` once per element (with its position) with the reader positioned at it;
    /// `element` must read or skip the value. The path names the position while `element` runs.
    /// - Precondition: ``peekKind()`` returned `.array`.
    mutating func readArray(
        _ element: (inout JSONByteReader, Int) throws(WebhookDecodingError) -> Void
    ) throws(WebhookDecodingError) {
        try enterContainer()
        skipWhitespace()
        if consume(UInt8(ascii: "]")) {
            depth -= 1
            return
        }
        var index = 0
        while true {
            path.append(.index(index))
            try element(&self, index)
            path.removeLast()
            index += 1
            skipWhitespace()
            if consume(UInt8(ascii: ",")) { continue }
            guard consume(UInt8(ascii: "]")) else { throw unexpectedByteError() }
            depth -= 1
            return
        }
    }

    /// Checks that nothing but whitespace follows the document.
    mutating func expectEnd() throws(WebhookDecodingError) {
        skipWhitespace()
        guard offset == bytes.count else { throw syntaxError("more content after the end of the document") }
    }

    // MARK: Scalars

    /// Reads a string value.
    /// - Throws: a type error naming the current path when the next value is not a string.
    mutating func readString() throws(WebhookDecodingError) -> String {
        let kind = try peekKind()
        guard kind == .string else {
            try skipValue()
            throw wrongType(expected: "a string", found: kind)
        }
        return try readStringValue()
    }

    /// Reads a string value and hands its UTF-8 bytes to `body`, without making a `String` when it has no
    /// escapes; `nil` for `null`.
    mutating func withOptionalStringBytes<Value>(
        _ body: (UnsafeBufferPointer<UInt8>) -> Value
    ) throws(WebhookDecodingError) -> Value? {
        let kind = try peekKind()
        guard kind == .string else {
            if kind == .null {
                try skipValue()
                return nil
            }
            try skipValue()
            throw wrongType(expected: "a string", found: kind)
        }
        let start = offset + 1
        let (end, _, hasEscapes) = try skipStringValue()
        let raw = UnsafeRawBufferPointer(rebasing: bytes[start..<end])
        if hasEscapes {
            var text = try unescape(raw)
            return text.withUTF8(body)
        }
        if raw.contains(where: { $0 >= 0x80 }), String(validating: raw, as: UTF8.self) == nil {
            throw syntaxError("a string is not valid UTF-8")
        }
        return body(raw.assumingMemoryBound(to: UInt8.self))
    }

    /// Reads a string value, or `nil` for `null`.
    mutating func readOptionalString() throws(WebhookDecodingError) -> String? {
        if try peekKind() == .null {
            try skipValue()
            return nil
        }
        return try readString()
    }

    /// Reads an integer that fits in `Int`, or `nil` for `null`.
    mutating func readOptionalInteger() throws(WebhookDecodingError) -> Int? {
        let kind = try peekKind()
        switch kind {
        case .null:
            try skipValue()
            return nil
        case .number:
            let start = offset
            let isInteger = try scanNumber()
            var value = 0
            let digits = UnsafeRawBufferPointer(rebasing: bytes[start..<offset])
            let negative = digits.first == UInt8(ascii: "-")
            var fits = isInteger
            for byte in digits.dropFirst(negative ? 1 : 0) where fits {
                let (shifted, overflow1) = value.multipliedReportingOverflow(by: 10)
                let (next, overflow2) =
                    negative
                    ? shifted.subtractingReportingOverflow(Int(byte - UInt8(ascii: "0")))
                    : shifted.addingReportingOverflow(Int(byte - UInt8(ascii: "0")))
                fits = !overflow1 && !overflow2
                value = next
            }
            if fits { return value }
            // Written with a fraction or an exponent (`1.0`, `1e2`), or too long: accepted when it is a whole
            // number that fits, as JSON number semantics allow.
            guard let number = Double(String(decoding: digits, as: UTF8.self)), number.rounded() == number else {
                throw invalidValue("must be an integer")
            }
            guard let whole = Int(exactly: number) else {
                throw invalidValue("must be an integer that fits in 64 bits")
            }
            return whole
        default:
            try skipValue()
            throw wrongType(expected: "an integer", found: kind)
        }
    }

    /// Reads an object whose values are all strings, or `nil` for `null`.
    mutating func readOptionalStringMap() throws(WebhookDecodingError) -> [String: String]? {
        let kind = try peekKind()
        if kind == .null {
            try skipValue()
            return nil
        }
        guard kind == .object else {
            try skipValue()
            throw wrongType(expected: "an object", found: kind)
        }
        // Members are gathered first so that the dictionary is allocated once, at its final size.
        mapMembers.removeAll(keepingCapacity: true)
        try readObject { reader, name throws(WebhookDecodingError) in
            reader.mapMembers.append((name, try reader.readString()))
        }
        var map: [String: String] = Dictionary(minimumCapacity: mapMembers.count)
        for (name, value) in mapMembers where map.updateValue(value, forKey: name) != nil {
            path.append(.member(name))
            throw duplicateMember(name)
        }
        return map
    }

    /// Skips the next value, checking that it is valid JSON.
    mutating func skipValue() throws(WebhookDecodingError) {
        switch try peekKind() {
        case .object:
            try readObject { reader, _ throws(WebhookDecodingError) in try reader.skipValue() }
        case .array:
            try readArray { reader, _ throws(WebhookDecodingError) in try reader.skipValue() }
        case .string:
            let start = offset + 1
            let (end, isPlainASCII, hasEscapes) = try skipStringValue()
            if !isPlainASCII {
                // Not kept, but checked as a read would: escapes and UTF-8.
                let raw = UnsafeRawBufferPointer(rebasing: bytes[start..<end])
                if hasEscapes {
                    _ = try unescape(raw)
                } else if String(validating: raw, as: UTF8.self) == nil {
                    throw syntaxError("a string is not valid UTF-8")
                }
            }
        case .number:
            _ = try scanNumber()
        case .boolean:
            guard consumeLiteral("true") || consumeLiteral("false") else { throw unexpectedByteError() }
        case .null:
            guard consumeLiteral("null") else { throw unexpectedByteError() }
        }
    }

    // MARK: Lexing

    private mutating func enterContainer() throws(WebhookDecodingError) {
        guard depth < Self.maximumDepth else {
            throw syntaxError("nested deeper than \(Self.maximumDepth) levels")
        }
        depth += 1
        offset += 1
    }

    private mutating func skipWhitespace() {
        while offset < bytes.count {
            switch bytes[offset] {
            case UInt8(ascii: " "), UInt8(ascii: "\n"), UInt8(ascii: "\r"), UInt8(ascii: "\t"): offset += 1
            default: return
            }
        }
    }

    private mutating func consume(_ byte: UInt8) -> Bool {
        guard offset < bytes.count, bytes[offset] == byte else { return false }
        offset += 1
        return true
    }

    private mutating func consumeLiteral(_ literal: StaticString) -> Bool {
        let count = literal.utf8CodeUnitCount
        guard offset + count <= bytes.count else { return false }
        let matches = literal.withUTF8Buffer { expected in
            for index in 0..<count where bytes[offset + index] != expected[index] { return false }
            return true
        }
        if matches { offset += count }
        return matches
    }

    /// Scans a number (the JSON grammar exactly) and says whether it was written as an integer.
    private mutating func scanNumber() throws(WebhookDecodingError) -> Bool {
        _ = consume(UInt8(ascii: "-"))
        guard offset < bytes.count else { throw unexpectedByteError() }
        if bytes[offset] == UInt8(ascii: "0") {
            offset += 1
        } else {
            guard scanDigits() > 0 else { throw unexpectedByteError() }
        }
        var isInteger = true
        if consume(UInt8(ascii: ".")) {
            isInteger = false
            guard scanDigits() > 0 else { throw unexpectedByteError() }
        }
        if consume(UInt8(ascii: "e")) || consume(UInt8(ascii: "E")) {
            isInteger = false
            if !consume(UInt8(ascii: "+")) { _ = consume(UInt8(ascii: "-")) }
            guard scanDigits() > 0 else { throw unexpectedByteError() }
        }
        return isInteger
    }

    private mutating func scanDigits() -> Int {
        let start = offset
        while offset < bytes.count, bytes[offset] >= UInt8(ascii: "0"), bytes[offset] <= UInt8(ascii: "9") {
            offset += 1
        }
        return offset - start
    }

    /// Reads the string starting at the current `"`.
    private mutating func readStringValue() throws(WebhookDecodingError) -> String {
        let start = offset + 1
        let (end, isPlainASCII, hasEscapes) = try skipStringValue()
        let raw = UnsafeRawBufferPointer(rebasing: bytes[start..<end])
        if isPlainASCII {
            return String(decoding: raw, as: UTF8.self)
        }
        if !hasEscapes {
            guard let text = String(validating: raw, as: UTF8.self) else {
                throw syntaxError("a string is not valid UTF-8")
            }
            return text
        }
        return try unescape(raw)
    }

    /// Moves past the string starting at the current `"`, checking it: where its closing quote is, whether it is
    /// ASCII without escapes, and whether it has escapes.
    private mutating func skipStringValue() throws(WebhookDecodingError) -> (
        end: Int, isPlainASCII: Bool, hasEscapes: Bool
    ) {
        offset += 1
        var isASCII = true
        var hasEscapes = false
        while offset < bytes.count {
            let byte = bytes[offset]
            switch byte {
            case UInt8(ascii: "\""):
                let end = offset
                offset += 1
                return (end, isASCII && !hasEscapes, hasEscapes)
            case UInt8(ascii: "\\"):
                hasEscapes = true
                offset += 2
            case 0..<0x20:
                throw syntaxError("a control character inside a string must be escaped")
            case 0x80...:
                isASCII = false
                offset += 1
            default:
                offset += 1
            }
        }
        offset = bytes.count
        throw syntaxError("a string is not closed")
    }

    /// The text of a string body with escapes, checked: every escape valid, surrogates paired, UTF-8 valid.
    private func unescape(_ raw: UnsafeRawBufferPointer) throws(WebhookDecodingError) -> String {
        var output: [UInt8] = []
        output.reserveCapacity(raw.count)
        var index = 0
        func hexQuad(at position: Int) -> UInt32? {
            guard position + 4 <= raw.count else { return nil }
            var value: UInt32 = 0
            for byte in raw[position..<position + 4] {
                let digit: UInt8
                switch byte {
                case UInt8(ascii: "0")...UInt8(ascii: "9"): digit = byte - UInt8(ascii: "0")
                case UInt8(ascii: "a")...UInt8(ascii: "f"): digit = byte - UInt8(ascii: "a") + 10
                case UInt8(ascii: "A")...UInt8(ascii: "F"): digit = byte - UInt8(ascii: "A") + 10
                default: return nil
                }
                value = value << 4 | UInt32(digit)
            }
            return value
        }
        while index < raw.count {
            let byte = raw[index]
            guard byte == UInt8(ascii: "\\") else {
                output.append(byte)
                index += 1
                continue
            }
            guard index + 1 < raw.count else { throw syntaxError("an escape is not finished") }
            let escaped = raw[index + 1]
            index += 2
            switch escaped {
            case UInt8(ascii: "\""), UInt8(ascii: "\\"), UInt8(ascii: "/"): output.append(escaped)
            case UInt8(ascii: "b"): output.append(0x08)
            case UInt8(ascii: "f"): output.append(0x0C)
            case UInt8(ascii: "n"): output.append(0x0A)
            case UInt8(ascii: "r"): output.append(0x0D)
            case UInt8(ascii: "t"): output.append(0x09)
            case UInt8(ascii: "u"):
                guard var scalar = hexQuad(at: index) else { throw syntaxError("a \\u escape needs 4 hex digits") }
                index += 4
                if (0xD800..<0xDC00).contains(scalar) {
                    guard index + 1 < raw.count, raw[index] == UInt8(ascii: "\\"), raw[index + 1] == UInt8(ascii: "u"),
                        let low = hexQuad(at: index + 2), (0xDC00..<0xE000).contains(low)
                    else { throw syntaxError("a \\u escape of a high surrogate is not followed by a low one") }
                    index += 6
                    scalar = 0x10000 + ((scalar - 0xD800) << 10) + (low - 0xDC00)
                }
                guard let unicodeScalar = Unicode.Scalar(scalar) else {
                    throw syntaxError("a \\u escape is a lone low surrogate")
                }
                output.append(contentsOf: UTF8.encode(unicodeScalar)!)
            default:
                throw syntaxError("unknown escape sequence")
            }
        }
        guard let text = String(validating: output, as: UTF8.self) else {
            throw syntaxError("a string is not valid UTF-8")
        }
        return text
    }
}
