-- One task, every column.
SELECT * FROM tasks WHERE id = @id
