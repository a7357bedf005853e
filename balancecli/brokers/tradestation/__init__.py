"""TradeStation: the Web API v3 (default) and v2 (legacy).
"""
