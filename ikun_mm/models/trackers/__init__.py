from .jde_tracker import JDETracker

__all__ = ['JDETracker']
