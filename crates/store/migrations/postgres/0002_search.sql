-- Search and list indexes (PostgreSQL): trigram GIN indexes serve the
-- case-insensitive substring search lower(field) LIKE '%term%'.
CREATE EXTENSION IF NOT EXISTS pg_trgm WITH SCHEMA public;
CREATE INDEX ix_application_name_trgm ON application USING gin (lower(name) public.gin_trgm_ops);
CREATE INDEX ix_book_title_trgm ON book USING gin (lower(title) public.gin_trgm_ops);
CREATE INDEX ix_game_name_trgm ON game USING gin (lower(name) public.gin_trgm_ops);
CREATE INDEX ix_movie_title_trgm ON movie USING gin (lower(title) public.gin_trgm_ops);
CREATE INDEX ix_serie_title_trgm ON serie USING gin (lower(title) public.gin_trgm_ops);
CREATE INDEX ix_track_title_trgm ON track USING gin (lower(title) public.gin_trgm_ops);
CREATE INDEX ix_content_popularity ON content (content_type, popularity_score DESC NULLS LAST, content_id);
CREATE INDEX ix_content_ratings ON content (content_type, rating_count DESC NULLS LAST, rating DESC NULLS LAST, content_id);
CREATE INDEX ix_game_recommendations ON game (recommendations DESC NULLS LAST, content_id);
DROP INDEX ix_content_type_popular;
