import AlertmanagerModels

/// Writes a decoder's path as a JSON path a person can read: `alerts[2].labels.severity`,
/// `alerts[0].labels["équipe"]`; the empty path (the whole body) is `$`.
enum JSONFieldPath {
    static let root = "$"

    /// A `Decoder`'s coding path, written as ``AlertmanagerModels/Swift/Array/jsonPathText``.
    static func render(_ codingPath: [any CodingKey]) -> String {
        render(codingPath.map { key in key.intValue.map(JSONPathComponent.index) ?? .member(key.stringValue) })
    }

    static func render(_ components: [JSONPathComponent]) -> String {
        components.jsonPathText
    }

    /// `alerts[index]`.
    static func alert(_ index: Int) -> String {
        "alerts[\(index)]"
    }
}
