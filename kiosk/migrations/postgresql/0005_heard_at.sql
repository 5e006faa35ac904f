-- 5 (issue 22): when the centre last heard each gate, as the exchanges arrived.
-- An exchange held back on its way (PostgreSQL restarting, the pool busy) can reach the
-- database after a newer exchange of the same gate was applied: its `holds` is then older than
-- what the centre holds, which reads as a store copied back (a false "rewound" alarm), and its
-- health is older than the one noted. The arrival of the newest exchange heard is kept here;
-- one that arrived before it is judged by nothing it says about the gate's store or health.
ALTER TABLE gates ADD COLUMN heard_at TIMESTAMPTZ;
