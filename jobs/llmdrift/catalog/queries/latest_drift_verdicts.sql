-- Verdicts of the newest drift run (the latest current window; drift_results keeps every run): drifted
-- tests first by q value, then stable ones, then slices too small to test.
WITH latest AS (
    SELECT run_id
    FROM llmdrift.drift_results
    ORDER BY current_end DESC, run_id DESC
    LIMIT 1
)
SELECT
    r.run_id,
    r.reference_start,
    r.reference_end,
    r.current_start,
    r.current_end,
    r.slice_type,
    r.slice,
    r.feature,
    r.method,
    CASE WHEN r.drifted THEN 'drift' WHEN NOT r.drifted THEN 'stable' ELSE 'not tested' END AS verdict,
    r.q_value,
    r.effect_size,
    r.reference_value,
    r.current_value,
    r.note
FROM llmdrift.drift_results AS r
JOIN latest ON r.run_id = latest.run_id
ORDER BY
    CASE WHEN r.drifted THEN 0 WHEN NOT r.drifted THEN 1 ELSE 2 END,
    r.q_value NULLS LAST,
    r.slice_type,
    r.slice,
    r.feature
