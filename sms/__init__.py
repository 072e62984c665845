"""SMS for Pishkhan: gateways (implementations of ``connector.ports.SmsGateway``), the Persian
texts of each event, and UCS-2 segment counting."""
