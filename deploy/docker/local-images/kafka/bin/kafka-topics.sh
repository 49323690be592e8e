#!/bin/sh
exec "$(dirname "$0")/kafka-tool.sh" org.apache.kafka.tools.TopicCommand "$@"
