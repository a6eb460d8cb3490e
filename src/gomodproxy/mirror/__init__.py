"""Pre-fetching a build's module graph into storage: sources to read (plan), the fetch (runner)
and its progress display (progress)."""
