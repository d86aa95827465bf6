"""NATS JetStream: stream and consumer setup, publishing, subjects."""
