"""yizhan's HTTP service (FastAPI) and command line (Typer)."""
