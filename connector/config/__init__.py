"""Configuration as declared data: process settings from the environment and one file per
organization, validated with messages that name the file, the key and the fix. May import the
letters' attachment limits, the outbox's policy values, and the packages below them."""
