"""Local fake servers that speak third-party wire formats (payment providers)."""
