"""Pure computation: geodesy, coordinate systems, opening hours, coverage, nearest, walking, siting.

Numpy, Shapely, pyproj and numba only; no database. Imports nothing of ``geo`` but
``geo.errors`` and ``geo.settings`` (import-linter checks it).
"""
