"""Pishkhan's core: domain, staging store, pipeline use cases, scheduler, CLI and settings.

This package must not import Flask, zeep, pyodbc, or the ``portal``, ``adapters``, ``sms`` and
``sandbox`` packages: adapters and SMS gateways are reached by name through entry points.
"""
