#!/bin/bash
# Starts one KRaft node from its environment, as the apache/kafka image does: every
# KAFKA_<NAME> becomes a server property (lower case; `_` is `.`, `__` is `_`, `___` is
# `-`), except the JVM options below; CLUSTER_ID formats the storage on first start.
# With no KAFKA_LOG_DIRS, data goes to /tmp/kraft-combined-logs, as in the official image.
set -euo pipefail

CONFIG=/opt/kafka/config/server.properties
echo "log.dirs=/tmp/kraft-combined-logs" > "$CONFIG"
for name in $(compgen -e); do
    case "$name" in
        KAFKA_HEAP_OPTS | KAFKA_OPTS | KAFKA_JVM_PERFORMANCE_OPTS | KAFKA_LOG4J_OPTS | KAFKA_JMX_OPTS) continue ;;
        KAFKA_*) ;;
        *) continue ;;
    esac
    key="${name#KAFKA_}"
    key="${key,,}"
    key="${key//___/-}"
    key="${key//__/@}"
    key="${key//_/.}"
    key="${key//@/_}"
    printf '%s=%s\n' "$key" "${!name}" >> "$CONFIG"
done

# The official image's default, for a single throwaway node (testcontainers) that sets none.
CLUSTER_ID="${CLUSTER_ID:-4L6g3nShT-eMCtK--X86sw}"
CLASSPATH="/opt/kafka/libs/*"
java -Xmx256m -Dlog4j2.configurationFile=/opt/kafka/config/tools-log4j2.properties \
    -cp "$CLASSPATH" kafka.tools.StorageTool format --ignore-formatted -t "$CLUSTER_ID" -c "$CONFIG"

# exec: the JVM becomes PID 1's child directly and gets SIGTERM for a clean shutdown.
exec java ${KAFKA_HEAP_OPTS:--Xmx512m -Xms512m} -XX:+UseG1GC -XX:MaxGCPauseMillis=20 \
    -Djava.awt.headless=true -Dlog4j2.configurationFile=/opt/kafka/config/log4j2.properties \
    ${KAFKA_OPTS:-} -cp "$CLASSPATH" kafka.Kafka "$CONFIG"
