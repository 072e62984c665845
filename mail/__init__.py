"""Mail gateways: SMTP and a folder outbox for development (the embedded default)."""
