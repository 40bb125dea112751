-- Anomalies of the last 7 days (today included), strongest first: daily and hourly points of usage, cost,
-- latency, errors and quality far from their baseline (robust z-score).
SELECT
    dt,
    grain,
    CASE WHEN grain = 'hourly' THEN hour END AS hour,
    slice_type,
    slice,
    metric,
    direction,
    round(value, 4) AS observed,
    round(expected, 4) AS baseline,
    round(score, 2) AS robust_z,
    baseline_kind
FROM llmdrift.anomalies
WHERE dt >= date_format(current_date - INTERVAL '6' DAY, '%Y-%m-%d')
  AND dt <= date_format(current_date, '%Y-%m-%d')
ORDER BY abs(score) DESC, dt DESC, metric, slice
