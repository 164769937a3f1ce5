import Foundation

/// One span as an OTLP receiver got it, decoded from protobuf or JSON; ids in lower-case hex.
public struct ReceivedSpan: Sendable, Hashable {
    public struct Link: Sendable, Hashable {
        public var traceID: String
        public var spanID: String

        public init(traceID: String, spanID: String) {
            self.traceID = traceID
            self.spanID = spanID
        }
    }

    public var traceID: String
    public var spanID: String
    /// Empty for a root span.
    public var parentSpanID: String
    public var name: String
    /// OTLP's `SpanKind`: 1 internal, 2 server, 3 client.
    public var kind: Int
    /// Attribute values as text (integers in decimal, booleans as `true`/`false`).
    public var attributes: [String: String]
    public var links: [Link]
    /// The attributes of the span's resource.
    public var resource: [String: String]
}

/// Reads an OTLP `ExportTraceServiceRequest` in the protobuf wire format: only the fields the tests look at
/// (resource spans → resource attributes and scope spans → spans: ids, parent, name, kind, attributes, links).
public enum OTLPProtobufReader {
    public struct Malformed: Error, CustomStringConvertible {
        public var description: String
    }

    /// The spans of an `ExportTraceServiceRequest`.
    public static func spans(fromRequest bytes: [UInt8]) throws -> [ReceivedSpan] {
        var spans: [ReceivedSpan] = []
        for field in try fields(bytes) where field.number == 1 {
            spans += try resourceSpans(try field.bytes())
        }
        return spans
    }

    private static func resourceSpans(_ bytes: [UInt8]) throws -> [ReceivedSpan] {
        var resource: [String: String] = [:]
        var spanMessages: [[UInt8]] = []
        for field in try fields(bytes) {
            switch field.number {
            case 1:
                for attribute in try fields(try field.bytes()) where attribute.number == 1 {
                    let (key, value) = try keyValue(try attribute.bytes())
                    resource[key] = value
                }
            case 2:
                for scopeField in try fields(try field.bytes()) where scopeField.number == 2 {
                    spanMessages.append(try scopeField.bytes())
                }
            default: break
            }
        }
        return try spanMessages.map { try span($0, resource: resource) }
    }

    private static func span(_ bytes: [UInt8], resource: [String: String]) throws -> ReceivedSpan {
        var span = ReceivedSpan(
            traceID: "", spanID: "", parentSpanID: "", name: "", kind: 0, attributes: [:], links: [], resource: resource)
        for field in try fields(bytes) {
            switch field.number {
            case 1: span.traceID = hex(try field.bytes())
            case 2: span.spanID = hex(try field.bytes())
            case 4: span.parentSpanID = hex(try field.bytes())
            case 5: span.name = String(decoding: try field.bytes(), as: UTF8.self)
            case 6: span.kind = Int(try field.varint())
            case 9:
                let (key, value) = try keyValue(try field.bytes())
                span.attributes[key] = value
            case 13:
                var link = ReceivedSpan.Link(traceID: "", spanID: "")
                for linkField in try fields(try field.bytes()) {
                    if linkField.number == 1 { link.traceID = hex(try linkField.bytes()) }
                    if linkField.number == 2 { link.spanID = hex(try linkField.bytes()) }
                }
                span.links.append(link)
            default: break
            }
        }
        return span
    }

    /// A `KeyValue`: its key and its `AnyValue` as text.
    private static func keyValue(_ bytes: [UInt8]) throws -> (String, String) {
        var key = ""
        var value = ""
        for field in try fields(bytes) {
            if field.number == 1 { key = String(decoding: try field.bytes(), as: UTF8.self) }
            if field.number == 2 {
                for valueField in try fields(try field.bytes()) {
                    switch valueField.number {
                    case 1: value = String(decoding: try valueField.bytes(), as: UTF8.self)
                    case 2: value = try valueField.varint() != 0 ? "true" : "false"
                    case 3: value = String(Int64(bitPattern: try valueField.varint()))
                    case 4: value = String(Double(bitPattern: try valueField.fixed64()))
                    default: value = "<\(valueField.number)>"
                    }
                }
            }
        }
        return (key, value)
    }

    /// One field of a message: its number and its raw value.
    struct Field {
        enum Value {
            case varint(UInt64)
            case fixed64(UInt64)
            case bytes([UInt8])
            case fixed32(UInt32)
        }

        var number: Int
        var value: Value

        func bytes() throws -> [UInt8] {
            guard case .bytes(let bytes) = value else { throw Malformed(description: "field \(number) is not length-delimited") }
            return bytes
        }

        func varint() throws -> UInt64 {
            guard case .varint(let number) = value else { throw Malformed(description: "field \(number) is not a varint") }
            return number
        }

        func fixed64() throws -> UInt64 {
            guard case .fixed64(let number) = value else { throw Malformed(description: "field \(number) is not 64-bit") }
            return number
        }
    }

    /// The fields of a message, in order.
    static func fields(_ bytes: [UInt8]) throws -> [Field] {
        var fields: [Field] = []
        var index = 0
        func readVarint() throws -> UInt64 {
            var result: UInt64 = 0
            var shift: UInt64 = 0
            while true {
                guard index < bytes.count, shift < 64 else { throw Malformed(description: "a varint runs past the end") }
                let byte = bytes[index]
                index += 1
                result |= UInt64(byte & 0x7F) << shift
                if byte & 0x80 == 0 { return result }
                shift += 7
            }
        }
        func readFixed(_ count: Int) throws -> UInt64 {
            guard index + count <= bytes.count else { throw Malformed(description: "a fixed field runs past the end") }
            var result: UInt64 = 0
            for offset in 0..<count { result |= UInt64(bytes[index + offset]) << (8 * UInt64(offset)) }
            index += count
            return result
        }
        while index < bytes.count {
            let tag = try readVarint()
            let number = Int(tag >> 3)
            switch tag & 7 {
            case 0: fields.append(Field(number: number, value: .varint(try readVarint())))
            case 1: fields.append(Field(number: number, value: .fixed64(try readFixed(8))))
            case 2:
                let length = Int(try readVarint())
                guard length >= 0, index + length <= bytes.count else { throw Malformed(description: "field \(number) runs past the end") }
                fields.append(Field(number: number, value: .bytes(Array(bytes[index..<index + length]))))
                index += length
            case 5: fields.append(Field(number: number, value: .fixed32(UInt32(try readFixed(4)))))
            default: throw Malformed(description: "field \(number) has the unsupported wire type \(tag & 7)")
            }
        }
        return fields
    }

    static func hex(_ bytes: [UInt8]) -> String {
        bytes.map { String(format: "%02x", $0) }.joined()
    }
}

/// Reads an OTLP `ExportTraceServiceRequest` in the JSON encoding (`http/json`): ids in hex or, as swift-protobuf
/// writes them, base64.
public enum OTLPJSONReader {
    public static func spans(fromRequest bytes: [UInt8]) throws -> [ReceivedSpan] {
        guard let root = try JSONSerialization.jsonObject(with: Data(bytes)) as? [String: Any] else {
            throw OTLPProtobufReader.Malformed(description: "the body is not a JSON object")
        }
        var spans: [ReceivedSpan] = []
        for resourceSpans in root["resourceSpans"] as? [[String: Any]] ?? [] {
            let resource = attributes((resourceSpans["resource"] as? [String: Any])?["attributes"])
            for scopeSpans in resourceSpans["scopeSpans"] as? [[String: Any]] ?? [] {
                for span in scopeSpans["spans"] as? [[String: Any]] ?? [] {
                    spans.append(
                        ReceivedSpan(
                            traceID: id(span["traceId"]), spanID: id(span["spanId"]), parentSpanID: id(span["parentSpanId"]),
                            name: span["name"] as? String ?? "", kind: (span["kind"] as? Int) ?? 0,
                            attributes: attributes(span["attributes"]),
                            links: (span["links"] as? [[String: Any]] ?? []).map {
                                ReceivedSpan.Link(traceID: id($0["traceId"]), spanID: id($0["spanId"]))
                            },
                            resource: resource))
                }
            }
        }
        return spans
    }

    private static func id(_ value: Any?) -> String {
        guard let text = value as? String, !text.isEmpty else { return "" }
        let isHex = (text.count == 32 || text.count == 16) && text.allSatisfy(\.isHexDigit)
        if isHex { return text.lowercased() }
        guard let data = Data(base64Encoded: text) else { return text }
        return OTLPProtobufReader.hex(Array(data))
    }

    private static func attributes(_ value: Any?) -> [String: String] {
        var result: [String: String] = [:]
        for pair in value as? [[String: Any]] ?? [] {
            guard let key = pair["key"] as? String, let value = pair["value"] as? [String: Any] else { continue }
            if let text = value["stringValue"] as? String {
                result[key] = text
            } else if let number = value["intValue"] {
                result[key] = "\(number)"
            } else if let flag = value["boolValue"] as? Bool {
                result[key] = flag ? "true" : "false"
            } else if let number = value["doubleValue"] {
                result[key] = "\(number)"
            }
        }
        return result
    }
}
