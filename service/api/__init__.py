"""The FastAPI gateway: app factory, thin routers, dependencies, error mapping."""
