#!/bin/sh
exec "$(dirname "$0")/kafka-tool.sh" kafka.tools.StorageTool "$@"
