import PostgresNIO
import PublisherCore

extension StoreError {
    /// A store error for `failure`, naming what the store was doing.
    ///
    /// Only PostgreSQL's message and SQLSTATE are kept, never its detail (which can quote a row), the statement's
    /// parameters (a message body) or the connection's password.
    init(failure: any Error, while operation: String) {
        switch failure {
        case let storeError as StoreError:
            self = storeError
        case let timeout as OperationTimedOut where timeout.leasing:
            self.init(
                reason: "\(operation) got no connection to PostgreSQL within \(Self.seconds(timeout.timeout)) "
                    + "(unreachable, refusing the connection, its TLS or the credentials, or every connection busy; the "
                    + "client's background log says which)")
        case let timeout as OperationTimedOut:
            self.init(
                reason: "\(operation) got no answer from PostgreSQL within \(Self.seconds(timeout.timeout)) "
                    + "(unreachable, overloaded, or waiting for a lock); the connection was closed")
        case let transaction as PostgresTransactionError:
            if let begin = transaction.beginError {
                self.init(failure: begin, while: operation)
            } else if let closure = transaction.closureError {
                self.init(failure: closure, while: operation)
            } else if let commit = transaction.commitError {
                self.init(failure: commit, while: "\(operation) (at COMMIT)")
            } else {
                self.init(reason: "\(operation) failed in its transaction")
            }
        case let psql as PSQLError:
            self.init(reason: "\(operation) failed: \(Self.explain(psql))")
        case let decoding as PostgresDecodingError:
            self.init(
                reason: "\(operation) failed: the column \(decoding.columnName) (\(decoding.postgresType)) could not "
                    + "be read as \(decoding.targetType) (\(decoding.code))")
        case is CancellationError:
            self.init(reason: "\(operation) was cancelled")
        default:
            self.init(reason: "\(operation) failed: \(type(of: failure))")
        }
    }

    /// PostgreSQL's message and SQLSTATE for a server error; what went wrong with the connection otherwise.
    private static func explain(_ error: PSQLError) -> String {
        if error.code == .server, let info = error.serverInfo {
            let message = info[.message] ?? "no message"
            let state = info[.sqlState].map { " \($0)" } ?? ""
            return "PostgreSQL error\(state) (\(message))"
        }
        switch error.code {
        case .connectionError, .serverClosedConnection, .clientClosedConnection, .uncleanShutdown:
            let cause = error.underlying.map { ": \(String(describing: $0))" } ?? ""
            return "cannot reach PostgreSQL (\(error.code)\(cause))"
        case .sslUnsupported:
            return "the server does not support TLS, which the connection's sslmode requires"
        case .failedToAddSSLHandler:
            return "TLS could not be set up (\(error.underlying.map { String(describing: $0) } ?? "no detail"))"
        case .poolClosed:
            return "the PostgreSQL client is not running or was shut down"
        default:
            let cause = error.underlying.map { ": \(type(of: $0))" } ?? ""
            return "PostgreSQL client error \(error.code)\(cause)"
        }
    }

    private static func seconds(_ duration: Duration) -> String {
        let (seconds, attoseconds) = duration.components
        let value = Double(seconds) + Double(attoseconds) / 1e18
        return value == value.rounded() ? "\(Int(value)) s" : "\(value) s"
    }
}
