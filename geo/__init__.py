"""yizhan domain: sites, areas, history, analysis. Imports neither ``api`` nor ``maps``."""

__version__ = "0.1.0"
