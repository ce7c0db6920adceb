"""fabgrid.quality."""
