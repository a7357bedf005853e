"""LongPort (Longbridge) OpenAPI.
"""
