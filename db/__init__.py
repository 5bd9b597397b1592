"""Application database: SQLAlchemy models, engine and Alembic migrations (never tokens or email bodies)."""
