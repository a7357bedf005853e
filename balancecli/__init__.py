"""balancecli: a read-only balance inspector for brokerage and crypto accounts."""

__version__ = "0.1.0"
