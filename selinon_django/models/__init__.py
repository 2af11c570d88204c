"""Database models: configuration revisions and runs."""
