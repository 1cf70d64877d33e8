-- The users list's search reads the email range apart from the name range, leaving out
-- whom the name range found. With the name key and id beside each address, that read never
-- touches the table (it used to look up every matching row, which grew with the matches).
CREATE INDEX users_by_email_name ON users (email, name_key, id);
