"""Messages to citizens that leave later than the change that caused them: the SMS outbox
(transactional: queued in the same transaction, sent by the worker under a claim) and its
policy (quiet hours, rate limits, gateway health). May import domain, config, store and
plugins."""
