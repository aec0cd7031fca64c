-- Placeholder on the watch branch only, so that its 0009 applies (migrations
-- are numbered without gaps). At merge, drop it: harden-store's 0005/0006 and
-- slices' 0007/0008 take these numbers.
SELECT 1;
