"""sumdb package."""
