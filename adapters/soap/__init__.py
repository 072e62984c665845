"""SOAP correspondence systems, driven by declarative profiles (see :mod:`adapters.soap.profile`).

The entry point ``soap = adapters.soap:SoapAdapter`` names the class below; zeep is imported only
when an organization actually uses this adapter.
"""
from .adapter import SoapAdapter

__all__ = ["SoapAdapter"]
