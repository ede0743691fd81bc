"""Segments (saved filters over contacts, evaluated as SQL) and self-profiling by text."""
