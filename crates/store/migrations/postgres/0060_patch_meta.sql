-- A rating or a consumption (PATCH /api/{media}/{id}/meta) in one round trip.
-- `store::interactions::patch_meta` does it statement by statement: create
-- the interaction, lock it and read the old rating, move the item's average
-- and rating count, apply the patch, write the events. Each statement is a
-- round trip, and seven of them in one transaction cap PostgreSQL at about
-- 2,500 ratings/s on the benchmark machine (bench/pg_ceiling.sh). This
-- function is the same steps run by the server, called in one statement;
-- its arithmetic and events must stay those of the Rust path, which both
-- databases' HTTP tests pin with the same expectations
-- (`ratings_write_the_same_events_and_averages_on_both_databases`).
--
-- p_now is the patch's time, p_now_text its rendering in events, p_at the
-- events' time, p_added_payload the `meta_added` payload (computed by the
-- caller: a new interaction holds only the patch).
CREATE FUNCTION patch_meta(
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
#variable_conflict use_column
DECLARE
    v_inserted BOOLEAN;
    v_old BIGINT;
    v_row meta_user_content%ROWTYPE;
BEGIN
    INSERT INTO meta_user_content (user_id, content_id, review_see_count, count)
    VALUES (p_user, p_content, 0, 0)
    ON CONFLICT (user_id, content_id) DO NOTHING;
    v_inserted := FOUND;
    SELECT m.rating INTO v_old FROM meta_user_content m
    WHERE m.user_id = p_user AND m.content_id = p_content FOR UPDATE;

    IF p_rating IS NOT NULL THEN
        IF v_old IS NULL THEN
            UPDATE content c SET
                rating = (COALESCE(c.rating, 0) * COALESCE(c.rating_count, 0) + p_rating::DOUBLE PRECISION)
                         / (COALESCE(c.rating_count, 0) + 1),
                rating_count = COALESCE(c.rating_count, 0) + 1
            WHERE c.content_id = p_content;
        ELSE
            UPDATE content c SET
                rating = CASE WHEN COALESCE(c.rating_count, 0) = 0 THEN p_rating::DOUBLE PRECISION
                              ELSE (COALESCE(c.rating, 0) * c.rating_count - v_old::DOUBLE PRECISION
                                    + p_rating::DOUBLE PRECISION) / c.rating_count END,
                rating_count = CASE WHEN COALESCE(c.rating_count, 0) = 0 THEN 1 ELSE c.rating_count END
            WHERE c.content_id = p_content;
        END IF;
    END IF;

    UPDATE meta_user_content m SET
        rating = COALESCE(p_rating, m.rating),
        last_rating_date = CASE WHEN p_rating IS NULL THEN m.last_rating_date ELSE p_now END,
        count = CASE WHEN p_add IS NULL THEN m.count ELSE COALESCE(m.count, 0) + p_add END,
        last_count_increment = CASE WHEN p_add IS NULL THEN m.last_count_increment ELSE p_now END
    WHERE m.user_id = p_user AND m.content_id = p_content
    RETURNING m.* INTO v_row;

    IF v_inserted THEN
        INSERT INTO event (occured_at, occured_by, object_id, kind, model_name, attribute_name, new_value, content_type, payload)
        VALUES (p_at, p_user, p_content, 'meta_added', 'meta_user_content', NULL, NULL, p_label, p_added_payload);
    ELSE
        INSERT INTO event (occured_at, occured_by, object_id, kind, model_name, attribute_name, new_value, content_type, payload)
        SELECT p_at, p_user, p_content, 'changed', 'meta_user_content', change.attribute, change.value, p_label, NULL
        FROM (VALUES
            (1, p_rating IS NOT NULL AND v_old IS DISTINCT FROM p_rating, 'rating', p_rating::TEXT),
            (2, p_rating IS NOT NULL, 'last_rating_date', p_now_text),
            (3, p_add IS NOT NULL AND p_add <> 0, 'count', COALESCE(v_row.count, 0)::TEXT),
            (4, p_add IS NOT NULL, 'last_count_increment', p_now_text)
        ) AS change (position, wanted, attribute, value)
        WHERE change.wanted
        ORDER BY change.position;
    END IF;

    RETURN QUERY SELECT v_row.rating, v_row.last_rating_date, COALESCE(v_row.review_see_count, 0),
        v_row.last_review_see_date, COALESCE(v_row.count, 0), v_row.last_count_increment;
END;
$$;
