"""Site-wide pages: the front page, role dashboards, API documentation."""
