-- 3: drawing a pickup code asks whether anyone used that code lately (a used code is not
-- reissued for months, so an old pass or a remembered code opens nothing); the staff page
-- lists notices that gave up without reading the whole outbox

CREATE INDEX pickup_codes_by_code ON pickup_codes(code, used_at);
CREATE INDEX outbox_failed ON outbox(id) WHERE status = 'failed';
