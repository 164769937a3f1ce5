// PublisherSQLite
