-- Search and list indexes (SQLite): an FTS5 trigram index per media kind
-- answers substring searches (MATCH on a phrase of three or more
-- characters); triggers keep it in step with the media table.
CREATE VIRTUAL TABLE application_search USING fts5(name, content='application', content_rowid='content_id', tokenize='trigram');
CREATE TRIGGER application_search_insert AFTER INSERT ON application BEGIN INSERT INTO application_search(rowid, name) VALUES (new.content_id, new.name); END;
CREATE TRIGGER application_search_delete AFTER DELETE ON application BEGIN INSERT INTO application_search(application_search, rowid, name) VALUES ('delete', old.content_id, old.name); END;
CREATE TRIGGER application_search_update AFTER UPDATE OF name ON application BEGIN INSERT INTO application_search(application_search, rowid, name) VALUES ('delete', old.content_id, old.name); INSERT INTO application_search(rowid, name) VALUES (new.content_id, new.name); END;
CREATE VIRTUAL TABLE book_search USING fts5(title, content='book', content_rowid='content_id', tokenize='trigram');
CREATE TRIGGER book_search_insert AFTER INSERT ON book BEGIN INSERT INTO book_search(rowid, title) VALUES (new.content_id, new.title); END;
CREATE TRIGGER book_search_delete AFTER DELETE ON book BEGIN INSERT INTO book_search(book_search, rowid, title) VALUES ('delete', old.content_id, old.title); END;
CREATE TRIGGER book_search_update AFTER UPDATE OF title ON book BEGIN INSERT INTO book_search(book_search, rowid, title) VALUES ('delete', old.content_id, old.title); INSERT INTO book_search(rowid, title) VALUES (new.content_id, new.title); END;
CREATE VIRTUAL TABLE game_search USING fts5(name, content='game', content_rowid='content_id', tokenize='trigram');
CREATE TRIGGER game_search_insert AFTER INSERT ON game BEGIN INSERT INTO game_search(rowid, name) VALUES (new.content_id, new.name); END;
CREATE TRIGGER game_search_delete AFTER DELETE ON game BEGIN INSERT INTO game_search(game_search, rowid, name) VALUES ('delete', old.content_id, old.name); END;
CREATE TRIGGER game_search_update AFTER UPDATE OF name ON game BEGIN INSERT INTO game_search(game_search, rowid, name) VALUES ('delete', old.content_id, old.name); INSERT INTO game_search(rowid, name) VALUES (new.content_id, new.name); END;
CREATE VIRTUAL TABLE movie_search USING fts5(title, content='movie', content_rowid='content_id', tokenize='trigram');
CREATE TRIGGER movie_search_insert AFTER INSERT ON movie BEGIN INSERT INTO movie_search(rowid, title) VALUES (new.content_id, new.title); END;
CREATE TRIGGER movie_search_delete AFTER DELETE ON movie BEGIN INSERT INTO movie_search(movie_search, rowid, title) VALUES ('delete', old.content_id, old.title); END;
CREATE TRIGGER movie_search_update AFTER UPDATE OF title ON movie BEGIN INSERT INTO movie_search(movie_search, rowid, title) VALUES ('delete', old.content_id, old.title); INSERT INTO movie_search(rowid, title) VALUES (new.content_id, new.title); END;
CREATE VIRTUAL TABLE serie_search USING fts5(title, content='serie', content_rowid='content_id', tokenize='trigram');
CREATE TRIGGER serie_search_insert AFTER INSERT ON serie BEGIN INSERT INTO serie_search(rowid, title) VALUES (new.content_id, new.title); END;
CREATE TRIGGER serie_search_delete AFTER DELETE ON serie BEGIN INSERT INTO serie_search(serie_search, rowid, title) VALUES ('delete', old.content_id, old.title); END;
CREATE TRIGGER serie_search_update AFTER UPDATE OF title ON serie BEGIN INSERT INTO serie_search(serie_search, rowid, title) VALUES ('delete', old.content_id, old.title); INSERT INTO serie_search(rowid, title) VALUES (new.content_id, new.title); END;
CREATE VIRTUAL TABLE track_search USING fts5(title, content='track', content_rowid='content_id', tokenize='trigram');
CREATE TRIGGER track_search_insert AFTER INSERT ON track BEGIN INSERT INTO track_search(rowid, title) VALUES (new.content_id, new.title); END;
CREATE TRIGGER track_search_delete AFTER DELETE ON track BEGIN INSERT INTO track_search(track_search, rowid, title) VALUES ('delete', old.content_id, old.title); END;
CREATE TRIGGER track_search_update AFTER UPDATE OF title ON track BEGIN INSERT INTO track_search(track_search, rowid, title) VALUES ('delete', old.content_id, old.title); INSERT INTO track_search(rowid, title) VALUES (new.content_id, new.title); END;
CREATE INDEX ix_content_popularity ON content (content_type, popularity_score DESC, content_id);
CREATE INDEX ix_content_ratings ON content (content_type, rating_count DESC, rating DESC, content_id);
CREATE INDEX ix_game_recommendations ON game (recommendations DESC, content_id);
DROP INDEX ix_content_type_popular;
