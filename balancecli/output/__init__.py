"""Presentation: tables that fit without cutting a number, JSON/JSONL/CSV, the
plain-text accounting and OpenMetrics exports, the JSON Schemas.
"""
