"""Local infrastructure for Carepath: a real Kafka broker and a MongoDB-wire server.

Why this exists: the test suite and the run command need Kafka and MongoDB on machines
without Docker (DESIGN.md section 6, third option). The launcher starts Apache Kafka in
KRaft combined mode (jars resolved once from Maven Central) and either `mongod` (when on
the PATH) or FerretDB built once with Go, waits until both answer real protocol requests,
and stops exactly what it started. The launched things are called servers here, so that
nobody confuses them with Carepath's four services.

Standard library only, because it must run before any virtualenv exists:
    python3 -m deploy.local.launcher {up [--reset] | down [server...] | status | env | clean}
"""
