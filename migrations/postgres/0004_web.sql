-- The web pages' larger-text setting, in percent of the 18 px base text: 100, 125, 150 or 200.
ALTER TABLE users ADD COLUMN text_size INTEGER NOT NULL DEFAULT 100;
