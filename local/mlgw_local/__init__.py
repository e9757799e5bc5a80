"""Local mode: the OpenAPI document and module outputs of an example's offline plan, on localhost."""
