"""A local stand-in for the Microsoft identity platform and the Graph mail API (see README.md)."""
