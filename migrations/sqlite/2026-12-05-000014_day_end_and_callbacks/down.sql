DROP INDEX tickets_status_closed;
DELETE FROM alerts WHERE kind = 'day_end';
ALTER TABLE alerts DROP COLUMN payload;
