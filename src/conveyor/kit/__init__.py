"""Small domain-free helpers shared by every package."""
