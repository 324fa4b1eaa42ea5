"""The embedded platform's routers, one per resource."""
