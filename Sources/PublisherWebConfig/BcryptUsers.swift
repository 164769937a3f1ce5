import Crypto
import Foundation
import HummingbirdBcrypt
import NIOPosix
import Synchronization

/// The form of a bcrypt hash, as exporter-toolkit accepts them (Go's `bcrypt.Cost` succeeds).
enum BcryptHash {
    /// `$2a$`, `$2b$` or `$2y$`, a two-digit cost from 4 to 31, then 53 characters of bcrypt's base64.
    static func isWellFormed(_ hash: String) -> Bool {
        let bytes = Array(hash.utf8)
        guard bytes.count == 60, bytes[0] == UInt8(ascii: "$"), bytes[1] == UInt8(ascii: "2"),
            [UInt8(ascii: "a"), UInt8(ascii: "b"), UInt8(ascii: "y")].contains(bytes[2]), bytes[3] == UInt8(ascii: "$"),
            bytes[6] == UInt8(ascii: "$")
        else { return false }
        guard let cost = Int(String(decoding: bytes[4...5], as: UTF8.self)), (4...31).contains(cost) else { return false }
        let alphabet = Set("./ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789".utf8)
        return bytes[7...].allSatisfy { alphabet.contains($0) }
    }

    /// `$2y$` (htpasswd's) is `$2b$` under another name; hummingbird-auth's bcrypt knows `$2a$` and `$2b$`.
    static func normalized(_ hash: String) -> String {
        hash.hasPrefix("$2y$") ? "$2b$" + hash.dropFirst(4) : hash
    }
}

/// `basic_auth_users`: checks HTTP basic credentials against bcrypt hashes.
///
/// bcrypt is slow on purpose (tens of milliseconds at cost 10), so it runs on NIO's blocking thread pool, never on
/// an event loop, and successful checks are remembered, as exporter-toolkit does: a scrape every few seconds costs
/// one bcrypt, not one each. The cache holds SHA-256 digests of user, password and hash together, never a
/// password; a changed hash or password never matches an old entry. Only successes are cached, so a wrong password
/// always costs a bcrypt. A user name not in the file is checked against a decoy hash of the same cost, so the
/// answer's timing does not say which users exist.
public final class BasicAuthUsers: Sendable, CustomStringConvertible {
    /// The most successful checks remembered; the cache is emptied when it is full.
    public static let cacheCapacity = 1024

    private let users: [String: String]
    private let cache: Mutex<Set<Data>>
    private let decoy: Mutex<String?>
    private let verifications = Atomic<Int>(0)

    /// - Parameter users: user name → bcrypt hash, as ``WebConfig/users`` holds them.
    public init(users: [String: String]) {
        self.users = users.mapValues(BcryptHash.normalized)
        cache = Mutex([])
        decoy = Mutex(nil)
    }

    /// The user names, never a hash.
    public var description: String { "BasicAuthUsers(\(users.keys.sorted().joined(separator: ", ")))" }

    /// How many bcrypt computations ran (a measure of the cache's effect; tests use it).
    public var bcryptRuns: Int { verifications.load(ordering: .relaxed) }

    /// Whether `authorization` (an `Authorization` header) is `Basic` with a user of the file and its password.
    public func isAuthorized(_ authorization: String?) async -> Bool {
        guard let (user, password) = Self.basicCredentials(authorization) else { return false }
        return await verify(user: user, password: password)
    }

    /// Whether `password` is `user`'s.
    public func verify(user: String, password: String) async -> Bool {
        guard let hash = users[user] else {
            _ = await bcrypt(password, hash: await decoyHash())
            return false
        }
        let key = Self.cacheKey(user: user, password: password, hash: hash)
        if cache.withLock({ $0.contains(key) }) { return true }
        let matches = await bcrypt(password, hash: hash)
        if matches {
            cache.withLock { cache in
                if cache.count >= Self.cacheCapacity { cache.removeAll() }
                cache.insert(key)
            }
        }
        return matches
    }

    private func bcrypt(_ password: String, hash: String) async -> Bool {
        verifications.add(1, ordering: .relaxed)
        do {
            return try await NIOThreadPool.singleton.runIfActive { Bcrypt.verify(password, hash: hash) }
        } catch {
            return false
        }
    }

    /// A hash of a random password at the users' highest cost, made once.
    private func decoyHash() async -> String {
        if let decoy = decoy.withLock({ $0 }) { return decoy }
        let cost = users.values.compactMap { UInt8($0.dropFirst(4).prefix(2)) }.max() ?? 10
        let made = (try? await NIOThreadPool.singleton.runIfActive { Bcrypt.hash(UUID().uuidString, cost: cost) })
            ?? "$2b$04$" + String(repeating: "A", count: 53)
        decoy.withLock { $0 = made }
        return made
    }

    static func cacheKey(user: String, password: String, hash: String) -> Data {
        var hasher = SHA256()
        for part in [user, password, hash] {
            let bytes = Array(part.utf8)
            withUnsafeBytes(of: UInt64(bytes.count).bigEndian) { hasher.update(bufferPointer: $0) }
            hasher.update(data: bytes)
        }
        return Data(hasher.finalize())
    }

    /// The user and password of a `Basic` authorization header.
    static func basicCredentials(_ authorization: String?) -> (String, String)? {
        guard let authorization else { return nil }
        let trimmed = authorization.trimmingCharacters(in: .whitespaces)
        guard let space = trimmed.firstIndex(of: " "), trimmed[..<space].lowercased() == "basic" else { return nil }
        let encoded = trimmed[space...].trimmingCharacters(in: .whitespaces)
        guard let data = Data(base64Encoded: encoded), let text = String(data: data, encoding: .utf8),
            let colon = text.firstIndex(of: ":")
        else { return nil }
        return (String(text[..<colon]), String(text[text.index(after: colon)...]))
    }
}
