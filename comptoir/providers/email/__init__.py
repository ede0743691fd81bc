from comptoir.providers.email.type import EmailType

__all__ = ["EmailType"]
