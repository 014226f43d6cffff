-- Records progress of a running attempt (of attempt @attempt, when given).
UPDATE tasks SET progress = @progress
WHERE id = @id AND state = 'active' AND worker_id = @workerId AND (@attempt IS NULL OR attempts = @attempt)
RETURNING name, queue
