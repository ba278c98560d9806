-- Items per kind, kept by the writes, so that a page of a popular list does
-- not count every item of its kind again (total_pages). Statement-level
-- triggers: an import's multi-row INSERT, COPY or UPDATE touches the counter
-- once per statement, not once per row.
CREATE TABLE content_count (
    content_type VARCHAR(16) PRIMARY KEY,
    items BIGINT NOT NULL
);
INSERT INTO content_count (content_type, items)
    SELECT content_type, COUNT(*) FROM content WHERE content_type IS NOT NULL GROUP BY content_type;

CREATE FUNCTION content_count_add(delta_rows BIGINT, kind VARCHAR) RETURNS void LANGUAGE sql AS $$
    INSERT INTO content_count AS c (content_type, items) VALUES (kind, delta_rows)
    ON CONFLICT (content_type) DO UPDATE SET items = c.items + EXCLUDED.items;
$$;

CREATE FUNCTION content_count_inserted() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM content_count_add(n, t) FROM (
        SELECT content_type AS t, COUNT(*) AS n FROM new_rows
        WHERE content_type IS NOT NULL GROUP BY content_type ORDER BY content_type) d;
    RETURN NULL;
END $$;

CREATE FUNCTION content_count_deleted() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM content_count_add(-n, t) FROM (
        SELECT content_type AS t, COUNT(*) AS n FROM old_rows
        WHERE content_type IS NOT NULL GROUP BY content_type ORDER BY content_type) d;
    RETURN NULL;
END $$;

-- Only rows whose kind changed count (an import sets the kind after the
-- insert); rating and popularity updates find none.
CREATE FUNCTION content_count_updated() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM content_count_add(SUM(d.n), d.t) FROM (
        SELECT n.content_type AS t, 1 AS n FROM new_rows n JOIN old_rows o ON o.content_id = n.content_id
        WHERE n.content_type IS DISTINCT FROM o.content_type AND n.content_type IS NOT NULL
        UNION ALL
        SELECT o.content_type, -1 FROM new_rows n JOIN old_rows o ON o.content_id = n.content_id
        WHERE n.content_type IS DISTINCT FROM o.content_type AND o.content_type IS NOT NULL) d
    GROUP BY d.t ORDER BY d.t;
    RETURN NULL;
END $$;

CREATE TRIGGER content_count_insert AFTER INSERT ON content
    REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION content_count_inserted();
CREATE TRIGGER content_count_delete AFTER DELETE ON content
    REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION content_count_deleted();
CREATE TRIGGER content_count_update AFTER UPDATE ON content
    REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION content_count_updated();
