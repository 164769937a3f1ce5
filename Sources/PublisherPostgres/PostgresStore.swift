import PublisherCore

// The PostgreSQL store is being written; see issue 13.
