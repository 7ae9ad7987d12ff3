"""Teranga: sovereign digital services platform."""

__version__ = "0.1.0"
