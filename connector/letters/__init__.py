"""The letter and its life: the lifecycle (the one place a letter's state changes), the use
cases citizens and staff call (hand in, approve, reject, withdraw, retry, read), attachments
judged by content, the blob store and the timeline. May import the outbox, plugins, store and
domain (the organization is passed in, never read here)."""
