-- The outbox is a queue: every row is deleted soon after it is inserted. With the default thresholds (a fraction
-- of the table) autovacuum waits for hundreds of thousands of dead rows, and every read of the queue head walks
-- past them. Vacuum and analyze it after a fixed number of changes instead.
ALTER TABLE "EventOutbox" SET (
  autovacuum_vacuum_scale_factor = 0,
  autovacuum_vacuum_threshold = 10000,
  autovacuum_analyze_scale_factor = 0,
  autovacuum_analyze_threshold = 10000,
  autovacuum_vacuum_cost_delay = 0
);
