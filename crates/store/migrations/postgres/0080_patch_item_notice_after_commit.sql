-- patch_item (0061) without its NOTIFY: a transaction that notifies holds
-- PostgreSQL's notification-queue lock through its commit, WAL flush
-- included, so every rating committed one at a time (pgbench, 16 clients:
-- insert + NOTIFY in one transaction ≈1,900 tps, NOTIFY after the commit
-- ≈4,600, no NOTIFY ≈6,000). The caller announces after the commit instead,
-- like every other write (store/src/changes.rs).
DROP FUNCTION patch_item(BIGINT, BIGINT, TEXT, BIGINT, BIGINT, TIMESTAMP, TEXT, TIMESTAMP, TEXT, TEXT, TEXT);

-- Returns no row when the item is missing or of another kind (the API's 404).
CREATE FUNCTION patch_item(
    p_user BIGINT,
    p_content BIGINT,
    p_label TEXT,
    p_rating BIGINT,
    p_add BIGINT,
    p_now TIMESTAMP,
    p_now_text TEXT,
    p_at TIMESTAMP,
    p_added_payload TEXT
) RETURNS TABLE (
    rating BIGINT,
    last_rating_date TIMESTAMP,
    review_see_count BIGINT,
    last_review_see_date TIMESTAMP,
    count BIGINT,
    last_count_increment TIMESTAMP
) LANGUAGE plpgsql AS $$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM content c WHERE c.content_id = p_content AND c.content_type = p_label) THEN
        RETURN;
    END IF;
    RETURN QUERY SELECT * FROM patch_meta(p_user, p_content, p_label, p_rating, p_add,
                                          p_now, p_now_text, p_at, p_added_payload);
END;
$$;
