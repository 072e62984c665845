"""The letter's domain, pure: states and the one table of allowed transitions, the value
objects that cross the ports, the error classes, tracking codes, input normalization and the
clock. Imports nothing else of ours (nor SQLAlchemy), so every other package may import it."""
