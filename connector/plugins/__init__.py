"""The ports the core depends on (correspondence systems, SMS gateways, texts), the registry
that finds their implementations by entry-point name, and the secret helpers plugins share.
May import domain only; never a plugin package itself."""
