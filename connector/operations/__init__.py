"""What admins and monitoring watch: the per-organization dashboard and its actions, the
daily failure digest, Prometheus metrics, readiness, reports and log formatting. May import
any core package but the command line."""
