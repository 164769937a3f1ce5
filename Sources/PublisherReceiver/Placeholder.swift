// PublisherReceiver
