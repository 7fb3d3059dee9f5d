"""Mail: the outbox every message is written to first, and its delivery by SMTP."""
