"""fabgrid.store: SQLAlchemy 2 tables, repositories, unit of work and Alembic migrations.

SQLite (WAL) by default in the per-user data directory, PostgreSQL via FABGRID_DATABASE_URL.
"""
