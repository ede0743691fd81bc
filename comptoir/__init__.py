"""Comptoir: a self-hosted customer messaging hub for shops."""

__version__ = "0.1.0"
