from comptoir.providers.sandbox.type import SandboxType

__all__ = ["SandboxType"]
