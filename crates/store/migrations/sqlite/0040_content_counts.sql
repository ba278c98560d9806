-- Items per kind, kept by the writes, so that a page of a popular list does
-- not count every item of its kind again (total_pages).
CREATE TABLE content_count (
    content_type VARCHAR(16) PRIMARY KEY,
    items INTEGER NOT NULL
);
INSERT INTO content_count (content_type, items)
    SELECT content_type, COUNT(*) FROM content WHERE content_type IS NOT NULL GROUP BY content_type;

CREATE TRIGGER content_count_insert AFTER INSERT ON content WHEN NEW.content_type IS NOT NULL BEGIN
    INSERT INTO content_count (content_type, items) VALUES (NEW.content_type, 1)
    ON CONFLICT (content_type) DO UPDATE SET items = items + 1;
END;

CREATE TRIGGER content_count_delete AFTER DELETE ON content WHEN OLD.content_type IS NOT NULL BEGIN
    UPDATE content_count SET items = items - 1 WHERE content_type = OLD.content_type;
END;

-- An import sets the kind after the insert; rating updates do not fire it.
CREATE TRIGGER content_count_update AFTER UPDATE OF content_type ON content
    WHEN NEW.content_type IS NOT OLD.content_type BEGIN
    UPDATE content_count SET items = items - 1 WHERE content_type = OLD.content_type;
    INSERT INTO content_count (content_type, items) SELECT NEW.content_type, 1 WHERE NEW.content_type IS NOT NULL
    ON CONFLICT (content_type) DO UPDATE SET items = items + 1;
END;
