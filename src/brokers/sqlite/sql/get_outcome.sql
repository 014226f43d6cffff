-- One task's state, result and error (what a wait for its end reads; not its input).
SELECT state, result, error FROM tasks WHERE id = @id
