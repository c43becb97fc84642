#!/bin/bash
# Monthly DR drill: restore the latest backup into a throwaway in-memory
# node and compare row counts with production.
# Env: OFFSITE_DIR (where daily-backup.sh copies to), DRILL_PORT (default
# 15432), PROD_HOST/PROD_PORT (production, for the counts).
set -e
TEST_DIR="/tmp/heliosdb-dr-test-$(date +%s)-$$"
DRILL_PORT="${DRILL_PORT:-15432}"
mkdir -p "$TEST_DIR"
echo "Starting DR test..."

# 1. Fetch the latest backup (replaces aws s3 cp).
cp -L "$OFFSITE_DIR/daily/heliosdb-latest.heliodump" "$TEST_DIR/"
heliosdb-lite verify --input "$TEST_DIR/heliosdb-latest.heliodump"

# 2. Start a test instance.
heliosdb-lite start --memory --port "$DRILL_PORT" > "$TEST_DIR/node.log" 2>&1 &
TEST_PID=$!
trap 'kill $TEST_PID 2>/dev/null; rm -rf "$TEST_DIR"' EXIT
for i in $(seq 1 100); do
  psql -h localhost -p "$DRILL_PORT" -U postgres -Atc "select 1" >/dev/null 2>&1 && break
  sleep 0.1
done

# 3. Restore.
heliosdb-lite restore --input "$TEST_DIR/heliosdb-latest.heliodump" --host localhost --port "$DRILL_PORT"

# 4. Validation queries, and 5. compare with production.
for table in $(heliosdb-lite tables --host localhost --port "$DRILL_PORT"); do
  DUMP_COUNT=$(heliosdb-lite inspect --input "$TEST_DIR/heliosdb-latest.heliodump" --table "$table" | grep "Row count" | awk '{print $3}')
  TEST_COUNT=$(psql -h localhost -p "$DRILL_PORT" -U postgres -Atc "SELECT COUNT(*) FROM $table")
  PROD_COUNT=$(psql -h "${PROD_HOST:-localhost}" -p "${PROD_PORT:-5432}" -U postgres -Atc "SELECT COUNT(*) FROM $table")
  if [ "$DUMP_COUNT" -eq "$TEST_COUNT" ] && [ "$PROD_COUNT" -eq "$TEST_COUNT" ]; then
    echo "✓ $table: $TEST_COUNT rows (match)"
  else
    echo "DR Test FAILED: $table (dump: $DUMP_COUNT, restored: $TEST_COUNT, prod: $PROD_COUNT)"
    exit 1
  fi
done
echo "DR Test PASSED"
