"""fabgrid.geometry."""
