-- The inbox is now the projection runner's rm_notifications (rebuilt from the
-- NotificationSent events in the log), not a table fed from the outbox.
DROP TABLE nt_inbox;
