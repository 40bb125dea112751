-- Ingest health over the last 7 days: quarantined input per day and reason, how much of it still kept its
-- invocations row (warnings) or was rejected, and one example log object.
SELECT
    dt,
    reason_code,
    count(*) AS entries,
    count_if(row_kept) AS rows_kept,
    count_if(NOT row_kept) AS rejected,
    count(DISTINCT source_file) AS files,
    min(source_file) AS example_file
FROM llmdrift.quarantine
WHERE dt >= date_format(current_date - INTERVAL '6' DAY, '%Y-%m-%d')
  AND dt <= date_format(current_date, '%Y-%m-%d')
GROUP BY dt, reason_code
ORDER BY dt DESC, entries DESC, reason_code
