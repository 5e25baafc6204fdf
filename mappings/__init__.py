"""The mapping files shipped with bromsync (data only; see README.md here)."""
