"""The JSON API under /api/v1: its routes, the shapes of what it answers, and the OpenAPI
document that describes both."""
