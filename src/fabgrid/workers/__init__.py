"""fabgrid.workers."""
