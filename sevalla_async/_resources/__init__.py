"""One module per API resource; each method builds a request, sends it, returns models."""
