"""Quantower, through the BalanceCliBridge Strategy's export.
"""
