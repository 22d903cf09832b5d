-- v5 -> v6: what an approval pins

-- pin records exactly what was shown for approval when the command's target can
-- change while the request waits (the image digest an update will deploy), so the
-- command runs against that or not at all.
ALTER TABLE approval ADD COLUMN pin TEXT NOT NULL DEFAULT '';
