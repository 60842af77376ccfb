-- The member's country, for the crisis lines they are shown (an ISO code among those with lines
-- on file); NULL means "from my language" (en → US, es → MX, hi → IN).
ALTER TABLE users ADD COLUMN country TEXT;
