"""The bottom layer: the model, exact numbers, bounded JSON reading, errors, redaction,
cancellation. It imports nothing else of balancecli.
"""
