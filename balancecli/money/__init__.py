"""Exchange rates with their provenance, the ECB file, and the account value rule of
``--in CUR``.
"""
