-- Latency and errors per base model over the last 7 days, from the invocations themselves: approximate
-- p50/p90/p99 latency (ms), invocations, errors and the share throttled (throttling and quota errors).
SELECT
    coalesce(base_model_id, '(unresolved)') AS base_model_id,
    count(*) AS invocations,
    count(latency_ms) AS with_latency,
    approx_percentile(latency_ms, 0.5) AS latency_p50_ms,
    approx_percentile(latency_ms, 0.9) AS latency_p90_ms,
    approx_percentile(latency_ms, 0.99) AS latency_p99_ms,
    count_if(error_code IS NOT NULL) AS errors,
    round(
        CAST(count_if(error_code IN ('ThrottlingException', 'TooManyRequestsException',
                                     'ServiceQuotaExceededException')) AS double) / count(*),
        4
    ) AS throttled_share
FROM llmdrift.invocations
WHERE dt >= date_format(current_date - INTERVAL '6' DAY, '%Y-%m-%d')
  AND dt <= date_format(current_date, '%Y-%m-%d')
GROUP BY coalesce(base_model_id, '(unresolved)')
ORDER BY latency_p90_ms DESC NULLS LAST, base_model_id
