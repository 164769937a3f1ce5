import AlertmanagerModels
import Hummingbird
import Synchronization
import Testing

@testable import PublisherReceiver

@Suite("Receiver building blocks", .timeLimit(.minutes(2)))
struct ReceiverInternalsTests {
    /// A body arriving in chunks, counting how many chunks were pulled.
    final class CountingChunks: AsyncSequence, Sendable {
        typealias Element = ByteBuffer
        let chunks: [ByteBuffer]
        let pulled = Counter()

        init(chunks: [ByteBuffer]) { self.chunks = chunks }

        struct AsyncIterator: AsyncIteratorProtocol {
            let owner: CountingChunks
            var index = 0
            mutating func next() async throws -> ByteBuffer? {
                guard index < owner.chunks.count else { return nil }
                defer { index += 1 }
                owner.pulled.increment()
                return owner.chunks[index]
            }
        }

        func makeAsyncIterator() -> AsyncIterator { AsyncIterator(owner: self) }
    }

    @Test("a streamed body over the limit stops being read at the chunk that crosses it")
    func streamedBodyLimit() async throws {
        let chunk = ByteBuffer(repeating: UInt8(ascii: "a"), count: 400)
        let source = CountingChunks(chunks: Array(repeating: chunk, count: 10))
        await #expect(throws: RequestBodyReadError.self) {
            _ = try await RequestBodyReader.collect(RequestBody(asyncSequence: source), limit: 1000)
        }
        #expect(source.pulled.value == 3)
    }

    @Test("a streamed body at the limit is collected whole")
    func streamedBodyAtLimit() async throws {
        let chunk = ByteBuffer(repeating: UInt8(ascii: "a"), count: 250)
        let source = CountingChunks(chunks: Array(repeating: chunk, count: 4))
        let body = try await RequestBodyReader.collect(RequestBody(asyncSequence: source), limit: 1000)
        #expect(body.readableBytes == 1000)
    }

    @Test("the constant-time comparison is exact")
    func constantTimeEquals() {
        func bytes(_ text: String) -> [UInt8] { Array(text.utf8) }
        #expect(BearerTokenVerifier.constantTimeEquals(bytes("abc"), bytes("abc")))
        #expect(!BearerTokenVerifier.constantTimeEquals(bytes("abd"), bytes("abc")))
        #expect(!BearerTokenVerifier.constantTimeEquals(bytes("xbc"), bytes("abc")))
        #expect(!BearerTokenVerifier.constantTimeEquals(bytes("ab"), bytes("abc")))
        #expect(!BearerTokenVerifier.constantTimeEquals(bytes("abcabc"), bytes("abc")))  // repeats the token
        #expect(!BearerTokenVerifier.constantTimeEquals(bytes(""), bytes("abc")))
        #expect(!BearerTokenVerifier.constantTimeEquals(bytes("a"), bytes("")))
    }

    @Test("coding paths read as JSON paths")
    func fieldPaths() {
        struct Key: CodingKey {
            var stringValue: String
            var intValue: Int?
            init(_ name: String) { self.stringValue = name }
            init(_ index: Int) { self.stringValue = "Index \(index)"; self.intValue = index }
            init?(stringValue: String) { self.init(stringValue) }
            init?(intValue: Int) { self.init(intValue) }
        }
        #expect(JSONFieldPath.render([any CodingKey]()) == "$")
        #expect(JSONFieldPath.render([JSONPathComponent]()) == "$")
        #expect(JSONFieldPath.render([.member("alerts"), .index(1), .member("équipe")]) == #"alerts[1]["équipe"]"#)
        #expect(JSONFieldPath.render([Key("alerts"), Key(2), Key("labels")]) == "alerts[2].labels")
        #expect(JSONFieldPath.render([Key("alerts"), Key(0), Key("labels"), Key("team.name")])
            == #"alerts[0].labels["team.name"]"#)
        #expect(JSONFieldPath.render([Key("a\"b")]) == #"["a\"b"]"#)
    }

    @Test("media types", arguments: [
        ("application/json", true), ("application/json;charset=utf-8", true), (" APPLICATION/JSON ; x=y", true),
        ("text/plain", false), ("application/jsonp", false), ("", false),
        ("text/plain;charset=UTF-8", false), ("application/x-www-form-urlencoded", false),
        ("multipart/form-data; boundary=x", false), ("application/json-seq", false), ("application/vnd.api+json", false),
    ])
    func mediaTypes(_ contentType: String, _ isJSON: Bool) {
        #expect(MediaTypeCheck.isJSON(contentType: contentType) == isJSON)
    }

    @Test("a request without Content-Type is not JSON")
    func missingMediaType() {
        #expect(!MediaTypeCheck.isJSON(contentType: nil))
    }

    @Test("the in-flight limit admits up to its limit and again after a place is given back")
    func inFlightLimit() {
        let limit = InFlightLimit(limit: 2)
        #expect(limit.tryEnter())
        #expect(limit.tryEnter())
        #expect(!limit.tryEnter())
        #expect(limit.current == 2)
        limit.leave()
        #expect(limit.tryEnter())
        #expect(!limit.tryEnter())
    }
}

/// A thread-safe counter for test doubles.
final class Counter: Sendable {
    private let storage = Mutex(0)
    func increment() { storage.withLock { $0 += 1 } }
    var value: Int { storage.withLock { $0 } }
}
