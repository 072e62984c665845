"""Adapters that plug Pishkhan's core into organizations' correspondence systems.

Each adapter implements :class:`connector.plugins.ports.CorrespondenceSystem` and is found by the core
through the ``pishkhan.adapters`` entry points; it may import only ``connector.plugins``
and ``connector.domain`` from the core.
"""
