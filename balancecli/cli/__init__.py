"""The command line: the Typer app, its commands, the one error boundary, completion
and ``--watch``.
"""
