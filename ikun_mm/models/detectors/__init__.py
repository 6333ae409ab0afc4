"""Detectors, including the detector-free replay of cached detections."""
from .detections_from_file import DetectionsFromFile
from .hog_person_detector import HOGPersonDetector, hog_detect

__all__ = ['DetectionsFromFile', 'HOGPersonDetector', 'hog_detect']
