"""The activity record: an append-only, hash-chained account of every call through the gateway."""
