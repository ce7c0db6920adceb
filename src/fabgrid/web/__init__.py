"""fabgrid.web."""
