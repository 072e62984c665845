"""Adapters that plug Pishkhan's core into organizations' correspondence systems.

Each adapter implements :class:`connector.plugins.ports.CorrespondenceSystem` and is found by the core
through the ``pishkhan.adapters`` entry points; it may import only ``connector.ports``,
``connector.domain`` and ``connector.errors`` from the core.
"""
