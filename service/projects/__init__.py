"""Projects and API keys: who may see which resources."""
