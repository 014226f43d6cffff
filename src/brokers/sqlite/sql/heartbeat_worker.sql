-- Records a worker's heartbeat and counters.
UPDATE workers
SET heartbeat_at = @now,
    info = json_set(info, '$.active', @active, '$.processed', @processed, '$.failed', @failed,
                    '$.heartbeatAt', @now)
WHERE id = @id
