"""Star catalogs shipped with startrail (see README.md in this folder)."""
