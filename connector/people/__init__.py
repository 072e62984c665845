"""Who uses Pishkhan: citizens proving a mobile with a one-time code, the hashed credentials
we keep, staff accounts and roles, the organization's LDAP directory. May import config
and the packages below it, never delivery."""
