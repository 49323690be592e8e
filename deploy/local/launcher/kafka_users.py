"""The Kafka users of the local broker: a super user for tools and tests, one per service.

Each service authenticates as itself (SASL/SCRAM-SHA-512, DESIGN §8) and may touch only its
own topics (ACLs: `shared/messaging/acls.py`, applied by `shared/messaging/kafka_grants.py`).
The launcher creates these users when it formats the broker's storage.

The passwords below are published development credentials for a broker that listens on
127.0.0.1 only; production refuses them and any Kafka without TLS
(`shared/security/production.py`).
"""

from __future__ import annotations

MECHANISM = "SCRAM-SHA-512"
PROTOCOL = "SASL_PLAINTEXT"
ADMIN = "admin"
SERVICES = ("intake", "matching", "scheduling", "notifications")
USERS = (ADMIN, *SERVICES)
ACLS_VARIABLE = "CAREPATH_KAFKA_ACLS"
"""Set to `on` where the services' own users exist: callers then run each service as itself."""


def password_of(user: str) -> str:
    """The local development password of `user` (published: never use it beyond a laptop)."""
    return f"carepath-local-kafka-{user}-do-not-use-in-production"


def development_passwords() -> tuple[str, ...]:
    """Every published password, for production mode to refuse."""
    return tuple(password_of(user) for user in USERS)


def client_environment(user: str) -> dict[str, str]:
    """The `KAFKA_*` variables that log `user` in to the local broker."""
    return {
        "KAFKA_SECURITY_PROTOCOL": PROTOCOL,
        "KAFKA_SASL_MECHANISM": MECHANISM,
        "KAFKA_SASL_USERNAME": user,
        "KAFKA_SASL_PASSWORD": password_of(user),
    }


def scram_arguments() -> list[str]:
    """StorageTool `format` arguments creating every user with its password."""
    arguments: list[str] = []
    for user in USERS:
        arguments += ["--add-scram", f"{MECHANISM}=[name={user},password={password_of(user)}]"]
    return arguments
