#!/bin/bash
# Daily full backup: dump, copy offsite, prune, log.
# Env: BACKUP_DIR (default /var/backups/heliosdb), OFFSITE_DIR (a second
# medium: NFS mount, synced bucket dir), RETENTION_DAYS (default 30),
# PGHOST/PGPORT/PGUSER/PGPASSWORD for the server.
set -e
BACKUP_DIR="${BACKUP_DIR:-/var/backups/heliosdb}"
OFFSITE_DIR="${OFFSITE_DIR:-}"
DATE=$(date +%Y%m%d-%H%M%S)
RETENTION_DAYS="${RETENTION_DAYS:-30}"

mkdir -p "$BACKUP_DIR/daily"

heliosdb-lite dump \
  --output "$BACKUP_DIR/daily/heliosdb-$DATE.heliodump" \
  --compress zstd \
  --compression-level 3 \
  --verbose

# Second copy on another medium (replaces the guide's aws s3 cp).
if [ -n "$OFFSITE_DIR" ]; then
  mkdir -p "$OFFSITE_DIR/daily"
  cp "$BACKUP_DIR/daily/heliosdb-$DATE.heliodump" "$OFFSITE_DIR/daily/"
  ln -sf "heliosdb-$DATE.heliodump" "$OFFSITE_DIR/daily/heliosdb-latest.heliodump"
fi

find "$BACKUP_DIR/daily" -name "*.heliodump" -mtime +"$RETENTION_DAYS" -delete

echo "[$DATE] Backup completed successfully" >> "$BACKUP_DIR/backup.log"
