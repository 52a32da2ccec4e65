"""The version of naikit (kept out of the package face so the CLI can read it without importing the face)."""

__version__ = "0.1.0"
