"""Thin HTTP routers: parse, call the service layer, shape the response."""
