"""fabgrid.network."""
