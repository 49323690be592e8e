#!/bin/sh
# Creates every Carepath topic and its dead-letter topic, then exits.
#
# Run by the one-shot `kafka-topics` service in docker-compose.yml once the broker is
# healthy; the services start only after this exits 0, so no consumer ever subscribes
# to a topic that is missing or was auto-created with the wrong partition count.
# Safe to run again: --if-not-exists makes each creation a no-op when the topic exists.
#
# Settings (environment):
#   KAFKA_BOOTSTRAP_SERVERS   broker to talk to            (default kafka:9092)
#   KAFKA_PARTITIONS          partitions per topic         (default 6, DESIGN §3)
#   KAFKA_REPLICATION_FACTOR  replicas per partition       (default 1: one broker)
#   KAFKA_TOPICS_BIN          path of kafka-topics.sh      (default: the apache/kafka image's)
#   DLQ_RETENTION_MS          how long dead letters stay   (default 30 days)
#   CREATE_PARALLELISM        topics created at once       (default 4)
#   KAFKA_SASL_USERNAME, KAFKA_SASL_PASSWORD   log in with SASL/SCRAM-SHA-512 (the super user)
set -eu

BOOTSTRAP="${KAFKA_BOOTSTRAP_SERVERS:-kafka:9092}"
PARTITIONS="${KAFKA_PARTITIONS:-6}"
REPLICATION="${KAFKA_REPLICATION_FACTOR:-1}"
TOPICS_BIN="${KAFKA_TOPICS_BIN:-/opt/kafka/bin/kafka-topics.sh}"
# Dead letters wait for a person to look at them, so they outlive the 7-day default.
DLQ_RETENTION_MS="${DLQ_RETENTION_MS:-2592000000}"
# Each kafka-topics.sh call starts a JVM (~2 s); a few at a time keeps start-up short
# without starting 28 JVMs at once on a laptop.
PARALLELISM="${CREATE_PARALLELISM:-4}"

# One topic per event type, named exactly as the event (DESIGN §1 and §3).
# Keep in step with the topic registry in shared/ and with deploy/k8s/kafka/topics.yaml;
# tests/unit/deploy/test_compose_file.py reads this block and compares.
EVENT_TOPICS="
intake-completed
risk-flagged
match-proposed
match-accepted
match-declined
session-booked
session-rescheduled
session-cancelled
session-attendance-recorded
booking-failed
check-in-due
check-in-completed
check-in-missed
treatment-plan-updated
therapist-availability-changed
notification-delivered
notification-failed
"

# The broker authenticates every client: log in as the super user when one is given.
LOGIN=""
if [ -n "${KAFKA_SASL_USERNAME:-}" ]; then
    LOGIN=/tmp/carepath-admin.properties
    cat > "$LOGIN" <<PROPERTIES
security.protocol=SASL_PLAINTEXT
sasl.mechanism=SCRAM-SHA-512
sasl.jaas.config=org.apache.kafka.common.security.scram.ScramLoginModule required username="${KAFKA_SASL_USERNAME}" password="${KAFKA_SASL_PASSWORD}";
PROPERTIES
fi

create_topic() {
    # $1 topic name, then extra arguments for kafka-topics.sh
    topic="$1"
    shift
    "$TOPICS_BIN" --bootstrap-server "$BOOTSTRAP" ${LOGIN:+--command-config "$LOGIN"} --create --if-not-exists \
        --topic "$topic" --partitions "$PARTITIONS" --replication-factor "$REPLICATION" "$@"
    echo "topic ready: $topic"
}

pids=""
failed=0

wait_for_batch() {
    for pid in $pids; do
        wait "$pid" || failed=1
    done
    pids=""
}

in_flight=0
for topic in $EVENT_TOPICS; do
    create_topic "$topic" &
    pids="$pids $!"
    create_topic "$topic.dlq" --config "retention.ms=$DLQ_RETENTION_MS" &
    pids="$pids $!"
    in_flight=$((in_flight + 2))
    if [ "$in_flight" -ge "$PARALLELISM" ]; then
        wait_for_batch
        in_flight=0
    fi
done
wait_for_batch

if [ "$failed" -ne 0 ]; then
    echo "some topics could not be created (see errors above)" >&2
    exit 1
fi
echo "all Carepath topics exist on $BOOTSTRAP"
