"""fabgrid.sim."""
