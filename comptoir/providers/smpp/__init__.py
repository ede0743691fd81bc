from comptoir.providers.smpp.type import SmppType

__all__ = ["SmppType"]
