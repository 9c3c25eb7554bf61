CREATE TABLE greeting (
    id         BIGSERIAL PRIMARY KEY,
    message    VARCHAR(255) NOT NULL,
    created_at TIMESTAMPTZ  NOT NULL DEFAULT now()
);

INSERT INTO greeting (message) VALUES ('Hello from Flyway');
