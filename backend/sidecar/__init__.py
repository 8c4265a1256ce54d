"""Sidecar IO: safe XMP parsing, merging, atomic writes, provenance and revert."""
