"""HTTP plumbing for every service's FastAPI app: auth, problem+json, health, metrics."""
