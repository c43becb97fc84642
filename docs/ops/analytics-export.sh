#!/bin/bash
# Daily export of the analytics tables, kept 90 days.
# Env: EXPORT_DIR (default /analytics/exports), WAREHOUSE_DIR (replaces
# the guide's rclone target).
set -e
DATE=$(date +%Y%m%d)
EXPORT_DIR="${EXPORT_DIR:-/analytics/exports}"
mkdir -p "$EXPORT_DIR"
heliosdb-lite dump \
  --output "$EXPORT_DIR/analytics-$DATE.heliodump" \
  --tables "daily_metrics,user_aggregates,revenue_summary" \
  --compress zstd \
  --compression-level 9
if [ -n "$WAREHOUSE_DIR" ]; then
  mkdir -p "$WAREHOUSE_DIR" && cp "$EXPORT_DIR/analytics-$DATE.heliodump" "$WAREHOUSE_DIR/"
fi
find "$EXPORT_DIR" -name "*.heliodump" -mtime +90 -delete
