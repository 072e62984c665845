"""One module per SMS provider; each is registered under ``pishkhan.sms_gateways``."""
