"""Deployment: the local launcher (local/), compose helpers (docker/) and Kubernetes manifests (k8s/)."""
