"""The payment provider protocol: the gateway's view of a credit reservation."""
