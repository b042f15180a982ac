"""Grad-CAM: the maths (base class, head-only and full-tape variants) and overlay helpers."""
