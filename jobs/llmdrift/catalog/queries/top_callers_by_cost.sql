-- Callers ranked by priced cost over the last 30 days (today included): invocations, tokens, the models
-- they used, and invocations left unpriced (missing price, provisioned or custom models), from usage_daily.
SELECT
    coalesce(caller_name, '(unknown)') AS caller_name,
    round(sum(cost_usd), 4) AS total_cost_usd,
    sum(invocations) AS invocations,
    sum(input_tokens) AS input_tokens,
    sum(output_tokens) AS output_tokens,
    sum(unpriced) AS unpriced,
    count(DISTINCT base_model_id) AS models
FROM llmdrift.usage_daily
WHERE dt >= date_format(current_date - INTERVAL '29' DAY, '%Y-%m-%d')
  AND dt <= date_format(current_date, '%Y-%m-%d')
GROUP BY coalesce(caller_name, '(unknown)')
ORDER BY total_cost_usd DESC NULLS LAST, invocations DESC, caller_name
LIMIT 25
