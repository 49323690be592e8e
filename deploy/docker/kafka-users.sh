#!/bin/sh
# Formats the broker's storage once, with its SASL/SCRAM-SHA-512 users, before the broker's
# first start (a KRaft broker keeps SCRAM credentials in its metadata log, and a broker that
# authenticates every client cannot create its first user over the network).
#
# Run by the one-shot `kafka-users` service in docker-compose.yml on the broker's volume.
# Safe to run again: --ignore-formatted leaves a formatted volume (and its users) as it is.
# The broker's own start then finds the storage formatted and goes on.
#
# Settings (environment): CLUSTER_ID, KAFKA_LOG_DIRS, and the passwords
# KAFKA_ADMIN_PASSWORD, KAFKA_INTAKE_PASSWORD, KAFKA_MATCHING_PASSWORD,
# KAFKA_SCHEDULING_PASSWORD, KAFKA_NOTIFICATIONS_PASSWORD.
set -eu

CONFIG=/tmp/format.properties
cat > "$CONFIG" <<PROPERTIES
process.roles=broker,controller
node.id=1
controller.quorum.voters=1@kafka:9093
controller.listener.names=CONTROLLER
listeners=SASL_PLAINTEXT://:9092,CONTROLLER://:9093
advertised.listeners=SASL_PLAINTEXT://kafka:9092
inter.broker.listener.name=SASL_PLAINTEXT
listener.security.protocol.map=SASL_PLAINTEXT:SASL_PLAINTEXT,CONTROLLER:SASL_PLAINTEXT
sasl.enabled.mechanisms=SCRAM-SHA-512
sasl.mechanism.inter.broker.protocol=SCRAM-SHA-512
sasl.mechanism.controller.protocol=PLAIN
listener.name.controller.sasl.enabled.mechanisms=PLAIN
log.dirs=${KAFKA_LOG_DIRS}
PROPERTIES

/opt/kafka/bin/kafka-storage.sh format --ignore-formatted -t "$CLUSTER_ID" -c "$CONFIG" \
    --add-scram "SCRAM-SHA-512=[name=admin,password=${KAFKA_ADMIN_PASSWORD}]" \
    --add-scram "SCRAM-SHA-512=[name=intake,password=${KAFKA_INTAKE_PASSWORD}]" \
    --add-scram "SCRAM-SHA-512=[name=matching,password=${KAFKA_MATCHING_PASSWORD}]" \
    --add-scram "SCRAM-SHA-512=[name=scheduling,password=${KAFKA_SCHEDULING_PASSWORD}]" \
    --add-scram "SCRAM-SHA-512=[name=notifications,password=${KAFKA_NOTIFICATIONS_PASSWORD}]"
echo "kafka storage ready, with its users (admin, intake, matching, scheduling, notifications)"
