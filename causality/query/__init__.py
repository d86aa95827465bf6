"""Running SQL over the warehouse: the QueryEngine interface and its engines."""
