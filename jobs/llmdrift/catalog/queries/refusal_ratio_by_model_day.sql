-- Refusal ratio per base model and day over the last 14 days: refusals / scored completions with a Wilson
-- 95% interval, from usage_daily (summed over callers and regions).
WITH daily AS (
    SELECT
        dt,
        coalesce(base_model_id, '(unresolved)') AS base_model_id,
        sum(scored) AS scored,
        sum(refusals) AS refusals
    FROM llmdrift.usage_daily
    WHERE dt >= date_format(current_date - INTERVAL '13' DAY, '%Y-%m-%d')
      AND dt <= date_format(current_date, '%Y-%m-%d')
    GROUP BY dt, coalesce(base_model_id, '(unresolved)')
),
rates AS (
    SELECT dt, base_model_id, scored, refusals,
           CAST(refusals AS double) / nullif(scored, 0) AS p,
           CAST(nullif(scored, 0) AS double) AS n
    FROM daily
)
SELECT
    dt,
    base_model_id,
    scored,
    refusals,
    round(p, 4) AS refusal_ratio,
    round((p + 1.96 * 1.96 / (2 * n) - 1.96 * sqrt(p * (1 - p) / n + 1.96 * 1.96 / (4 * n * n)))
          / (1 + 1.96 * 1.96 / n), 4) AS ci_low,
    round((p + 1.96 * 1.96 / (2 * n) + 1.96 * sqrt(p * (1 - p) / n + 1.96 * 1.96 / (4 * n * n)))
          / (1 + 1.96 * 1.96 / n), 4) AS ci_high
FROM rates
ORDER BY dt DESC, refusal_ratio DESC NULLS LAST, base_model_id
