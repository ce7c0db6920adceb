"""fabgrid.nesting."""
