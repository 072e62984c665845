"""Who uses Pishkhan: citizens proving a mobile with a one-time code, the hashed credentials
we keep, staff accounts and roles, the organization's LDAP directory. May import domain,
config, store, plugins and outbox."""
