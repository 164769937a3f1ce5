/// Writes alert and change events as compact JSON directly into bytes, with the same rules as
/// ``EventEncoding``: keys sorted, absent optionals left out, slashes not escaped.
///
/// Events are encoded on the webhook path once per alert, and `JSONEncoder`'s generic machinery was most of that
/// path's CPU time (see docs/performance.md). This writer knows the event types' fields and needs no reflection.
enum EventJSONWriter {
    /// Thrown for a number JSON cannot represent (NaN or infinite) in `custom_details`.
    struct NonFiniteNumber: Error, CustomStringConvertible {
        var description: String { "custom_details holds a number JSON cannot represent (NaN or infinite)" }
    }

    static func encode(_ event: AlertEvent) throws(NonFiniteNumber) -> [UInt8] {
        var writer = Writer()
        try writer.write(event)
        return writer.bytes
    }

    static func encode(_ event: ChangeEvent) throws(NonFiniteNumber) -> [UInt8] {
        var writer = Writer()
        try writer.write(event)
        return writer.bytes
    }

    /// An output buffer and the JSON grammar; members are written in sorted key order by the callers.
    struct Writer {
        var bytes: [UInt8] = []
        private var needsComma: [Bool] = []

        init() {
            bytes.reserveCapacity(1024)
        }

        mutating func write(_ event: AlertEvent) throws(NonFiniteNumber) {
            beginObject()
            member("client", event.client)
            member("client_url", event.clientURL)
            member("dedup_key", event.dedupKey)
            member("event_action", event.eventAction.rawValue)
            if let images = event.images { key("images"); write(images) }
            if let links = event.links { key("links"); write(links) }
            if let payload = event.payload {
                key("payload")
                beginObject()
                member("class", payload.class)
                member("component", payload.component)
                if let details = payload.customDetails { key("custom_details"); try write(details) }
                member("group", payload.group)
                member("severity", payload.severity.rawValue)
                member("source", payload.source)
                member("summary", payload.summary)
                member("timestamp", payload.timestamp)
                endObject()
            }
            member("routing_key", event.routingKey)
            endObject()
        }

        mutating func write(_ event: ChangeEvent) throws(NonFiniteNumber) {
            beginObject()
            if let images = event.images { key("images"); write(images) }
            if let links = event.links { key("links"); write(links) }
            key("payload")
            beginObject()
            if let details = event.payload.customDetails { key("custom_details"); try write(details) }
            member("source", event.payload.source)
            member("summary", event.payload.summary)
            member("timestamp", event.payload.timestamp)
            endObject()
            member("routing_key", event.routingKey)
            endObject()
        }

        private mutating func write(_ links: [Link]) {
            beginArray()
            for link in links {
                element()
                beginObject()
                member("href", link.href)
                member("text", link.text)
                endObject()
            }
            endArray()
        }

        private mutating func write(_ images: [Image]) {
            beginArray()
            for image in images {
                element()
                beginObject()
                member("alt", image.alt)
                member("href", image.href)
                member("src", image.src)
                endObject()
            }
            endArray()
        }

        mutating func write(_ value: JSONValue) throws(NonFiniteNumber) {
            switch value {
            case .string(let text):
                string(text)
            case .number(let number):
                guard number.isFinite else { throw NonFiniteNumber() }
                var text = number.description
                if text.hasSuffix(".0") { text.removeLast(2) }
                bytes.append(contentsOf: text.utf8)
            case .bool(let flag):
                bytes.append(contentsOf: (flag ? "true" : "false").utf8)
            case .null:
                bytes.append(contentsOf: "null".utf8)
            case .array(let elements):
                beginArray()
                for element in elements {
                    self.element()
                    try write(element)
                }
                endArray()
            case .object(let members):
                beginObject()
                for name in members.keys.sorted() {
                    key(name)
                    try write(members[name]!)
                }
                endObject()
            }
        }

        // MARK: Grammar

        private mutating func beginObject() {
            bytes.append(UInt8(ascii: "{"))
            needsComma.append(false)
        }

        private mutating func endObject() {
            bytes.append(UInt8(ascii: "}"))
            needsComma.removeLast()
        }

        private mutating func beginArray() {
            bytes.append(UInt8(ascii: "["))
            needsComma.append(false)
        }

        private mutating func endArray() {
            bytes.append(UInt8(ascii: "]"))
            needsComma.removeLast()
        }

        /// Starts an array element (a comma before every one but the first).
        private mutating func element() {
            if needsComma[needsComma.count - 1] { bytes.append(UInt8(ascii: ",")) }
            needsComma[needsComma.count - 1] = true
        }

        private mutating func key(_ name: String) {
            element()
            string(name)
            bytes.append(UInt8(ascii: ":"))
        }

        private mutating func member(_ name: String, _ value: String?) {
            guard let value else { return }
            key(name)
            string(value)
        }

        private static let hexDigits = Array("0123456789abcdef".utf8)

        /// A JSON string: `"` and `\` escaped, control characters as `\n`-style or `\u00XX` escapes, everything
        /// else (slashes and non-ASCII included) as its UTF-8 bytes.
        private mutating func string(_ text: String) {
            bytes.append(UInt8(ascii: "\""))
            // Most strings need no escape: copy them whole.
            if !text.utf8.contains(where: { $0 < 0x20 || $0 == UInt8(ascii: "\"") || $0 == UInt8(ascii: "\\") }) {
                bytes.append(contentsOf: text.utf8)
                bytes.append(UInt8(ascii: "\""))
                return
            }
            for byte in text.utf8 {
                switch byte {
                case UInt8(ascii: "\""): bytes.append(contentsOf: [UInt8(ascii: "\\"), UInt8(ascii: "\"")])
                case UInt8(ascii: "\\"): bytes.append(contentsOf: [UInt8(ascii: "\\"), UInt8(ascii: "\\")])
                case 0x0A: bytes.append(contentsOf: [UInt8(ascii: "\\"), UInt8(ascii: "n")])
                case 0x0D: bytes.append(contentsOf: [UInt8(ascii: "\\"), UInt8(ascii: "r")])
                case 0x09: bytes.append(contentsOf: [UInt8(ascii: "\\"), UInt8(ascii: "t")])
                case 0x08: bytes.append(contentsOf: [UInt8(ascii: "\\"), UInt8(ascii: "b")])
                case 0x0C: bytes.append(contentsOf: [UInt8(ascii: "\\"), UInt8(ascii: "f")])
                case 0x00..<0x20:
                    bytes.append(contentsOf: [UInt8(ascii: "\\"), UInt8(ascii: "u"), UInt8(ascii: "0"), UInt8(ascii: "0")])
                    bytes.append(Self.hexDigits[Int(byte >> 4)])
                    bytes.append(Self.hexDigits[Int(byte & 0x0F)])
                default: bytes.append(byte)
                }
            }
            bytes.append(UInt8(ascii: "\""))
        }
    }
}
