"""Matching's HTTP API: thin routers over the commands (`/v1/therapists`, `/v1/matches`, `/v1/clients`)."""
