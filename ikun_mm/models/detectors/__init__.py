"""Detectors, including the detector-free replay of cached detections."""
from .detections_from_file import DetectionsFromFile

__all__ = ['DetectionsFromFile']
from .hog_person_detector import HOGPersonDetector, hog_detect  # noqa: F401,E402
