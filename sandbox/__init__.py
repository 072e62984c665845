"""An emulated office-automation (اتوماسیون اداری) system: "the other side" that Pishkhan talks to.

It imports nothing from Pishkhan's own packages, so it behaves like a vendor's system would:
reachable only over SOAP, the scripting API and (later) its database tables.
"""
