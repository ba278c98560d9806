-- PATCH /api/{media}/{id}/meta in one round trip, not three: the check that
-- the item exists and is of the route's kind, the rating itself
-- (`patch_meta`, 0060), and the notice that tells the other instances the
-- item's average moved. NOTIFY is transactional: the notice leaves at the
-- commit, never for a change that rolled back.
--
-- Returns no row when the item is missing or of another kind (the API's
-- 404); p_notice is NULL when nothing cached moved (a consumption only).
CREATE FUNCTION patch_item(
    p_user BIGINT,
    p_content BIGINT,
    p_label TEXT,
    p_rating BIGINT,
    p_add BIGINT,
    p_now TIMESTAMP,
    p_now_text TEXT,
    p_at TIMESTAMP,
    p_added_payload TEXT,
    p_channel TEXT,
    p_notice TEXT
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
    IF p_notice IS NOT NULL THEN
        PERFORM pg_notify(p_channel || current_schema(), p_notice);
    END IF;
END;
$$;
