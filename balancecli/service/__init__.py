"""What the commands do, without a terminal: fetching profiles concurrently, the
doctor's checks, the offline credential report.
"""
