"""The HTTP client: total deadline, size cap, retries, the per-host adaptive limiter,
cancellation of requests in flight.
"""
