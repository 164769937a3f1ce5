import PublisherPostgres
import Testing

// The PostgreSQL store's tests are being written; see issue 13.
