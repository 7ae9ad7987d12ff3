"""Typer command line: ``teranga --help``."""
