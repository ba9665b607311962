"""Engines: external servers from URLs, or embedded ones under the data directory."""
