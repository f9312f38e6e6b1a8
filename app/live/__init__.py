"""Live commerce (直播带货): sessions, pins, flash deals, live updates and reports."""
