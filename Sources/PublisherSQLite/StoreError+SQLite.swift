import GRDB
import PublisherCore

extension StoreError {
    /// A store error for `failure`, naming what the store was doing and the file.
    ///
    /// Only SQLite's message and result code are kept: never the statement's arguments, which may hold a
    /// message body.
    init(failure: any Error, while operation: String, at path: String) {
        switch failure {
        case let storeError as StoreError:
            self = storeError
        case let databaseError as DatabaseError:
            let message = databaseError.message ?? "no message"
            self.init(
                reason: "\(operation) failed on \(path): SQLite error \(databaseError.extendedResultCode.rawValue) "
                    + "(\(message))")
        case is CancellationError:
            self.init(reason: "\(operation) on \(path) was cancelled")
        default:
            self.init(reason: "\(operation) failed on \(path): \(type(of: failure))")
        }
    }
}
