"""The registered protocols as the API describes them (GET /v1/protocols)."""
