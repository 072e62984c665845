"""SMS for Pishkhan: gateways (implementations of ``connector.plugins.ports.SmsGateway``), the Persian
texts of each event, and UCS-2 segment counting."""
