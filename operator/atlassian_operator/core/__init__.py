"""The pure core: resource views, the status mapping and the decisions, free of any I/O."""
