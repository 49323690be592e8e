#!/bin/sh
# Runs one of Kafka's command-line tools (class in $1) as the distribution's scripts do.
tool="$1"
shift
exec java ${KAFKA_HEAP_OPTS:--Xmx256m} -Dlog4j2.configurationFile=/opt/kafka/config/tools-log4j2.properties \
    -cp "/opt/kafka/libs/*" "$tool" "$@"
