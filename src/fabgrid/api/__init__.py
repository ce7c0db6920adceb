"""fabgrid.api."""
