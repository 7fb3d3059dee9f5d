"""The payment domain: a gateway payment's states and transitions, its reservation,
reviews above the limit, operations (settle, cancel, refund) and durable callbacks."""
