"""fabgrid.telemetry."""
