"""HTTP API (FastAPI), CLI (typer) and the composition root."""
