"""fabgrid.costing."""
