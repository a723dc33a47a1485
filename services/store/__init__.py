"""Where customers live: the repository interface and its backends (SQLite, Airtable)."""
