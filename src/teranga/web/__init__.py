"""Web layer: the app factory, middleware, error mapping, shared templates and static files."""
