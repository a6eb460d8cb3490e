"""gomod package."""
