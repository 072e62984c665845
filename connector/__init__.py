"""Pishkhan's core, one package per domain: the pure ``domain``; ``letters`` and their lifecycle;
``delivery`` into the correspondence system and ``polling`` of its routing; the ``outbox`` of
messages to citizens; ``people``; ``operations`` for admins and monitoring; ``config``; the
``store``; ``plugins`` (ports and registry); ``cli`` (the command and the worker); and the
composition root, ``bootstrap``.

This package must not import Flask, zeep, pyodbc, or the ``portal``, ``adapters``, ``sms`` and
``sandbox`` packages: adapters and SMS gateways are reached by name through entry points. The
layers between its packages are import-linter contracts in setup.cfg.
"""
