"""FastAPI app: routes per resource, server-rendered pages, health and readiness."""
