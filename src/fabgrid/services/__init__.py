"""fabgrid.services."""
