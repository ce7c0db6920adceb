"""fabgrid.scheduling."""
