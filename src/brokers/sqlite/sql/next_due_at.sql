-- When the next scheduled or retrying task falls due.
SELECT min(run_at) AS at FROM tasks WHERE state IN ('scheduled', 'retrying')
