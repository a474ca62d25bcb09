"""firstword: the customer-facing side of a retailer's IT incident."""

__version__ = "0.1.0"
