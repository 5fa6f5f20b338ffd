"""The read-only REST API over the store: ``create_app`` builds the FastAPI application."""

from rltrack.api.app import create_app

__all__ = ["create_app"]
