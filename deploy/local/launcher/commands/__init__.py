"""The launcher's commands: up, down, clean, status, env (one module each, clean beside down)."""
