-- Collaborative-filtering parameters chosen by `engine tune --save`; the
-- scheduler's next full training reads them (code defaults without a row).
CREATE TABLE engine_als_params (
    engine VARCHAR(64) PRIMARY KEY,
    factors INTEGER NOT NULL CHECK (factors > 0),
    regularization DOUBLE PRECISION NOT NULL CHECK (regularization >= 0),
    alpha DOUBLE PRECISION NOT NULL CHECK (alpha >= 0),
    iterations INTEGER NOT NULL CHECK (iterations > 0),
    saved_at TIMESTAMP NOT NULL
);
