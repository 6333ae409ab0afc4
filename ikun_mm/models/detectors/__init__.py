"""Detectors, including the detector-free replay of cached detections."""
from .detections_from_file import DetectionsFromFile

__all__ = ['DetectionsFromFile']
