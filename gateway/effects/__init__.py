"""Effects modes: how a call may change the person's state (live, peek, dry-run).

``prefer`` parses what the caller asks for (RFC 7240); ``mode`` decides what it gets.
"""
