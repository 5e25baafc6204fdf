"""The JSON Schemas shipped with bromsync (data only)."""
