-- Drafts keep a new topic's title beside its words (`community:SLUG` keys only), so a refused
-- form or the consent page loses neither. Null: no title kept.
ALTER TABLE drafts ADD COLUMN title TEXT;
