#!/bin/bash
# Hourly incremental: a full base the first time, then an appended
# incremental segment each run. If the server no longer keeps the deletes
# since the base (exit 1, "take a full dump"), the base is rotated and a
# new one started.
set -e
BACKUP_DIR="${BACKUP_DIR:-/var/backups/heliosdb}/incremental"
DATE=$(date +%Y%m%d-%H%M%S)
BASE_DUMP="$BACKUP_DIR/base.heliodump"
mkdir -p "$BACKUP_DIR"

if [ ! -f "$BASE_DUMP" ]; then
  heliosdb-lite dump --output "$BASE_DUMP" --compress zstd
  echo "[$DATE] Created base dump" >> "$BACKUP_DIR/backup.log"
elif heliosdb-lite dump --output "$BASE_DUMP" --append --compress zstd; then
  echo "[$DATE] Incremental backup appended" >> "$BACKUP_DIR/backup.log"
else
  mv "$BASE_DUMP" "$BACKUP_DIR/base-$DATE.heliodump"
  heliosdb-lite dump --output "$BASE_DUMP" --compress zstd
  echo "[$DATE] Incremental impossible; started a new base" >> "$BACKUP_DIR/backup.log"
fi

# Rotate the base weekly (Monday, midnight hour).
if [ "$(date +%u)" -eq 1 ] && [ "$(date +%H)" -eq 0 ]; then
  mv "$BASE_DUMP" "$BACKUP_DIR/base-$(date +%Y%m%d).heliodump"
  echo "[$DATE] Rotated base dump" >> "$BACKUP_DIR/backup.log"
fi
