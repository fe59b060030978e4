"""Formatting of results for terminals and files (display units live here only)."""
