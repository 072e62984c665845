"""Correspondence systems reached through their database over ODBC (pyodbc), with the SQL for
each neutral operation taken from a profile (see :mod:`adapters.odbc.profile`).

The entry point ``odbc = adapters.odbc:OdbcAdapter`` names the class below; pyodbc is imported
only when an organization actually uses this adapter.
"""
from .adapter import OdbcAdapter

__all__ = ["OdbcAdapter"]
