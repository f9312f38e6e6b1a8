"""Demo data for newcomers: `flask seed-demo`."""
