-- Placeholder on the watch branch only, so that its 0004 applies (migrations
-- are numbered without gaps). At merge, drop it: harden-store's 0002 and
-- slices' 0003 take these numbers.
SELECT 1;
