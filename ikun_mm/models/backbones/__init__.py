from .dla import DLASeg

__all__ = ['DLASeg']
