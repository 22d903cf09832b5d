-- v9 -> v10: alerts from outside (Alertmanager, job pings) and the info severity

-- Severities make room for info below warning: 0 ok, 1 info, 2 warning, 3 critical.
UPDATE alert SET severity = severity + 1 WHERE severity > 0;
UPDATE alert SET worst = worst + 1 WHERE worst > 0;

-- labels are the alert's labels as its sender gave them (Alertmanager's), a JSON
-- object; link is where to see more (Alertmanager's generatorURL); detail is a block
-- of text shown as it is (a failed job's last lines of output, masked).
ALTER TABLE alert ADD COLUMN labels TEXT NOT NULL DEFAULT '';
ALTER TABLE alert ADD COLUMN link   TEXT NOT NULL DEFAULT '';
ALTER TABLE alert ADD COLUMN detail TEXT NOT NULL DEFAULT '';

-- upstream is the ID of the silence Steward made in Alertmanager for this one, so
-- that ending it expires that one too; '' when there is none.
ALTER TABLE silence ADD COLUMN upstream TEXT NOT NULL DEFAULT '';
-- settled is set once the alerts it held back that resolved upstream meanwhile were
-- resolved here too (Alertmanager tells nobody that a silenced alert resolved); an
-- ended silence with an upstream and not settled is tried again until it is.
ALTER TABLE silence ADD COLUMN settled BOOLEAN NOT NULL DEFAULT false;
