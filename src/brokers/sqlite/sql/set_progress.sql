-- Records progress of a running attempt.
UPDATE tasks SET progress = @progress
WHERE id = @id AND state = 'active' AND worker_id = @workerId
RETURNING name, queue
