"""Mindspace: a mental-health and personal-growth platform."""

__version__ = "0.1.0"
