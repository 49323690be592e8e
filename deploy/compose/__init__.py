"""`make compose-up`, `compose-down` and `compose-test`: the stack in containers, even without Docker Hub."""
