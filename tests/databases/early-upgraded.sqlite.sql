PRAGMA foreign_keys=OFF;
BEGIN TRANSACTION;
CREATE TABLE IF NOT EXISTS "_migrations" (
   "name" TEXT PRIMARY KEY,
   "applied_at" TEXT
);
INSERT INTO _migrations VALUES('0001_create_cases','2026-11-25T13:31:56.850831+08:00');
INSERT INTO _migrations VALUES('0002_create_case_events','2026-11-25T13:31:56.851564+08:00');
INSERT INTO _migrations VALUES('0003_create_handoffs','2026-11-25T13:31:56.853552+08:00');
INSERT INTO _migrations VALUES('0004_fact_columns_and_several_cases','2026-11-25T13:31:56.854423+08:00');
INSERT INTO _migrations VALUES('0005_create_checklist_links','2026-11-25T13:31:56.855126+08:00');
INSERT INTO _migrations VALUES('console_0001_create_staff_users','2026-11-25T13:31:56.866625+08:00');
INSERT INTO _migrations VALUES('console_0002_create_staff_sessions','2026-11-25T13:31:56.867779+08:00');
INSERT INTO _migrations VALUES('console_0003_create_login_attempts','2026-11-25T13:31:56.868019+08:00');
INSERT INTO _migrations VALUES('console_0004_create_audit_log','2026-11-25T13:31:56.868156+08:00');
INSERT INTO _migrations VALUES('console_0005_create_case_notes','2026-11-25T13:31:56.868292+08:00');
INSERT INTO _migrations VALUES('console_0006_create_case_tags','2026-11-25T13:31:56.868439+08:00');
INSERT INTO _migrations VALUES('console_0007_create_conversation_reviews','2026-11-25T13:31:56.868536+08:00');
INSERT INTO _migrations VALUES('console_0008_create_flagged_examples','2026-11-25T13:31:56.868681+08:00');
INSERT INTO _migrations VALUES('console_0009_index_cases_for_queue','2026-11-25T13:31:56.868928+08:00');
INSERT INTO _migrations VALUES('console_0010_enable_cases_fts','2026-11-25T13:31:56.871506+08:00');
INSERT INTO _migrations VALUES('0006_namespace_sender_ids','2026-11-25T13:31:57.131054+08:00');
INSERT INTO _migrations VALUES('0007_one_waiting_handoff_per_conversation','2026-11-25T13:31:57.131366+08:00');
INSERT INTO _migrations VALUES('console_0011_namespace_sender_ids','2026-11-25T13:31:57.142092+08:00');
INSERT INTO _migrations VALUES('console_0012_add_staff_roles','2026-11-25T13:31:57.142473+08:00');
INSERT INTO _migrations VALUES('console_0013_add_staff_disabled_at','2026-11-25T13:31:57.142698+08:00');
INSERT INTO _migrations VALUES('console_0014_add_session_last_seen','2026-11-25T13:31:57.142962+08:00');
CREATE TABLE IF NOT EXISTS "cases" (
   "case_id" TEXT PRIMARY KEY,
   "kind" TEXT NOT NULL,
   "role" TEXT NOT NULL,
   "sender_id" TEXT NOT NULL,
   "channel" TEXT NOT NULL,
   "status" TEXT NOT NULL,
   "bank" TEXT,
   "amount" REAL,
   "txn_date" TEXT,
   "merchant" TEXT,
   "card_last4" TEXT,
   "card_type" TEXT,
   "steps_done" TEXT NOT NULL DEFAULT '[]',
   "handoff_requested" INTEGER DEFAULT 0,
   "created_at" TEXT NOT NULL,
   "updated_at" TEXT NOT NULL
, "correct_amount" REAL, "cross_border" INTEGER, "unknown_facts" TEXT NOT NULL DEFAULT '[]');
INSERT INTO cases VALUES('WS-20261120-0001','misswipe','cardholder','rest:alice','rest','open','中国银行',58.0,'2026-11-19','华联超市',NULL,NULL,'[]',0,'2026-11-25T13:31:56.877753+08:00','2026-11-25T13:31:56.877753+08:00',NULL,NULL,'[]');
INSERT INTO cases VALUES('WS-20261120-0002','misswipe','cardholder','web:0f3a9c5e0f3a9c5e0f3a9c5e0f3a9c5e','socketio','open','中国银行',58.0,'2026-11-19','全家便利店',NULL,NULL,'[]',0,'2026-11-25T13:31:56.877753+08:00','2026-11-25T13:31:56.877753+08:00',NULL,NULL,'[]');
INSERT INTO cases VALUES('WS-20261121-0001','misswipe','cardholder','wechat:oAbCdEfGhIjKlMnOpQrStUvWxYz','wechat','open','中国银行',58.0,'2026-11-19','沃尔玛',NULL,NULL,'[]',0,'2026-11-25T13:31:56.877753+08:00','2026-11-25T13:31:56.877753+08:00',NULL,NULL,'[]');
CREATE TABLE IF NOT EXISTS "case_counters" (
   "day" TEXT PRIMARY KEY,
   "last" INTEGER
);
INSERT INTO case_counters VALUES('20261120',2);
INSERT INTO case_counters VALUES('20261121',1);
CREATE TABLE IF NOT EXISTS "case_events" (
   "id" INTEGER PRIMARY KEY,
   "case_id" TEXT REFERENCES "cases"("case_id"),
   "at" TEXT,
   "event" TEXT,
   "detail" TEXT
);
INSERT INTO case_events VALUES(1,'WS-20261120-0001','2026-11-25T13:31:56.877753+08:00','created','{"kind": "misswipe"}');
CREATE TABLE IF NOT EXISTS "handoffs" (
   "id" INTEGER PRIMARY KEY,
   "sender_id" TEXT,
   "channel" TEXT,
   "case_id" TEXT,
   "requested_at" TEXT,
   "resolved_at" TEXT
);
INSERT INTO handoffs VALUES(1,'rest:alice','rest','WS-20261120-0001','2026-11-25T13:31:56.877753+08:00',NULL);
INSERT INTO handoffs VALUES(2,'rest:alice','rest',NULL,'2026-11-25T13:31:56.877753+08:00','2026-11-25T13:31:56.877753+08:00');
INSERT INTO handoffs VALUES(3,'wechat:oAbCdEfGhIjKlMnOpQrStUvWxYz','wechat','WS-20261121-0001','2026-11-25T13:31:56.877753+08:00','2026-11-25T13:31:56.877753+08:00');
INSERT INTO handoffs VALUES(4,'web:0f3a9c5e0f3a9c5e0f3a9c5e0f3a9c5e','socketio',NULL,'2026-11-25T13:31:56.877753+08:00',NULL);
CREATE TABLE IF NOT EXISTS "checklist_links" (
   "token_hash" TEXT PRIMARY KEY,
   "case_id" TEXT NOT NULL REFERENCES "cases"("case_id"),
   "created_at" TEXT NOT NULL,
   "expires_at" TEXT NOT NULL,
   "revoked_at" TEXT
);
INSERT INTO checklist_links VALUES('cccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccc','WS-20261120-0001','2026-11-25T13:31:56.877753+08:00','2026-12-25T13:31:56.877827+08:00',NULL);
CREATE TABLE staff_users (username TEXT PRIMARY KEY, password_hash TEXT NOT NULL, created_at TEXT NOT NULL, role TEXT NOT NULL DEFAULT 'agent', disabled_at TEXT);
INSERT INTO staff_users VALUES('old','scrypt$16384$8$1$b6JXMXA1b4UZF/eNNSCWVA==$k4Ftx9tyDGizNn+RAClDZNfiy+G7vMWcBDu448IAtVQ=','2026-11-25T13:31:56.877753+08:00','admin',NULL);
CREATE TABLE staff_sessions (id TEXT PRIMARY KEY, username TEXT NOT NULL REFERENCES staff_users(username), csrf_token TEXT NOT NULL, created_at TEXT NOT NULL, expires_at TEXT NOT NULL, last_seen_at TEXT);
INSERT INTO staff_sessions VALUES('dddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddd','old','eeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeee','2026-11-25T13:31:56.877753+08:00','2026-11-26T01:31:57.012542+08:00','2026-11-25T13:31:56.877753+08:00');
CREATE TABLE login_attempts (id INTEGER PRIMARY KEY, at TEXT NOT NULL, username TEXT NOT NULL, ip TEXT NOT NULL, succeeded INTEGER NOT NULL);
INSERT INTO login_attempts VALUES(1,'2026-11-25T13:31:56.877753+08:00','old','10.0.0.1',1);
CREATE TABLE audit_log (id INTEGER PRIMARY KEY, at TEXT NOT NULL, username TEXT NOT NULL, action TEXT NOT NULL, case_id TEXT, sender_id TEXT, detail TEXT NOT NULL);
INSERT INTO audit_log VALUES(1,'2026-11-25T13:31:56.877753+08:00','old','conversation_reviewed','WS-20261120-0001','rest:alice','{}');
INSERT INTO audit_log VALUES(2,'2026-11-25T13:31:56.877753+08:00','old','example_flagged',NULL,'web:0f3a9c5e0f3a9c5e0f3a9c5e0f3a9c5e','{}');
CREATE TABLE case_notes (id INTEGER PRIMARY KEY, case_id TEXT NOT NULL REFERENCES cases(case_id), at TEXT NOT NULL, username TEXT NOT NULL, text TEXT NOT NULL);
INSERT INTO case_notes VALUES(1,'WS-20261120-0001','2026-11-25T13:31:56.877753+08:00','old','回电');
CREATE TABLE case_tags (case_id TEXT REFERENCES cases(case_id), tag TEXT, added_by TEXT NOT NULL, added_at TEXT NOT NULL, PRIMARY KEY (case_id, tag));
INSERT INTO case_tags VALUES('WS-20261120-0001','需回电','old','2026-11-25T13:31:56.877753+08:00');
CREATE TABLE conversation_reviews (sender_id TEXT PRIMARY KEY, reviewed_by TEXT NOT NULL, reviewed_at TEXT NOT NULL, last_event_id INTEGER);
INSERT INTO conversation_reviews VALUES('rest:alice','old','2026-11-25T13:31:56.877753+08:00',3);
INSERT INTO conversation_reviews VALUES('rest:someone-else','old','2026-11-25T13:31:56.877753+08:00',9);
CREATE TABLE flagged_examples (id INTEGER PRIMARY KEY, sender_id TEXT NOT NULL, event_id INTEGER NOT NULL, text TEXT NOT NULL, annotated TEXT NOT NULL, predicted_intent TEXT, confidence FLOAT, intent TEXT NOT NULL, flagged_by TEXT NOT NULL, flagged_at TEXT NOT NULL);
INSERT INTO flagged_examples VALUES(1,'web:0f3a9c5e0f3a9c5e0f3a9c5e0f3a9c5e',7,'扣两次','扣两次',NULL,NULL,'report_misswipe','old','2026-11-25T13:31:56.877753+08:00');
PRAGMA writable_schema=ON;
INSERT INTO sqlite_schema(type,name,tbl_name,rootpage,sql)VALUES('table','cases_fts','cases_fts',0,'CREATE VIRTUAL TABLE "cases_fts" USING FTS5 (
    "case_id", "card_last4", "merchant",
    tokenize=''trigram'',
    content="cases"
)');
CREATE TABLE IF NOT EXISTS 'cases_fts_data'(id INTEGER PRIMARY KEY, block BLOB);
INSERT INTO cases_fts_data VALUES(1,X'032a0006');
INSERT INTO cases_fts_data VALUES(10,X'000000000106060006010101020101030101040101050101060101');
INSERT INTO cases_fts_data VALUES(137438953473,X'0000008b04302d303001020d020232300102040103302d3001020c0202303001020e03013101020f0202323601020601033131320102090202323001020a010332302d01020b0301320102050202363101020701033631310102080103732d32010203010377732d0102020109e58d8ee88194e8b68501060102020109e88194e8b685e5b882010601020304080708070607080708060708080810');
INSERT INTO cases_fts_data VALUES(274877906945,X'0000009a04302d303002020d020232300202040103302d3002020c0202303002020e03013202020f0202323602020601033131320202090202323002020a010332302d02020b0301320202050202363102020701033631310202080103732d32020203010377732d0202020109e4bebfe588a9e5ba9702060102040109e585a8e5aeb6e4bebf02060102020208aeb6e4bebfe588a902060102030408070807060708070806070808081010');
INSERT INTO cases_fts_data VALUES(412316860417,X'0000007c04302d303003020d02023230030204010330303003020e03013103020f020232360302060103312d3003020c020231320302090202323103020a01033230320302050202312d03020b0202363103020701033631310302080103732d32030203010377732d0302020109e6b283e5b094e78e9b0306010202040807080607080707080707080808');
INSERT INTO cases_fts_data VALUES(549755813889,X'0000008b04302d303001030d020232300103040103302d3001030c0202303001030e03013101030f0202323601030601033131320103090202323001030a010332302d01030b0301320103050202363101030701033631310103080103732d32010303010377732d0103020109e58d8ee88194e8b68501070102020109e88194e8b685e5b882010701020304080708070607080708060708080810');
INSERT INTO cases_fts_data VALUES(687194767361,X'0000009a04302d303002030d020232300203040103302d3002030c0202303002030e03013202030f0202323602030601033131320203090202323002030a010332302d02030b0301320203050202363102030701033631310203080103732d32020303010377732d0203020109e4bebfe588a9e5ba9702070102040109e585a8e5aeb6e4bebf02070102020208aeb6e4bebfe588a902070102030408070807060708070806070808081010');
INSERT INTO cases_fts_data VALUES(824633720833,X'0000007c04302d303003030d02023230030304010330303003030e03013103030f020232360303060103312d3003030c020231320303090202323103030a01033230320303050202312d03030b0202363103030701033631310303080103732d32030303010377732d0303020109e6b283e5b094e78e9b0307010202040807080607080707080707080808');
CREATE TABLE IF NOT EXISTS 'cases_fts_idx'(segid, term, pgno, PRIMARY KEY(segid, term)) WITHOUT ROWID;
INSERT INTO cases_fts_idx VALUES(1,X'',2);
INSERT INTO cases_fts_idx VALUES(2,X'',2);
INSERT INTO cases_fts_idx VALUES(3,X'',2);
INSERT INTO cases_fts_idx VALUES(4,X'',2);
INSERT INTO cases_fts_idx VALUES(5,X'',2);
INSERT INTO cases_fts_idx VALUES(6,X'',2);
CREATE TABLE IF NOT EXISTS 'cases_fts_docsize'(id INTEGER PRIMARY KEY, sz BLOB);
INSERT INTO cases_fts_docsize VALUES(1,X'0e0002');
INSERT INTO cases_fts_docsize VALUES(2,X'0e0003');
INSERT INTO cases_fts_docsize VALUES(3,X'0e0001');
CREATE TABLE IF NOT EXISTS 'cases_fts_config'(k PRIMARY KEY, v) WITHOUT ROWID;
INSERT INTO cases_fts_config VALUES('version',4);
CREATE INDEX "idx_cases_status_created_at"
    ON "cases" ("status", "created_at");
CREATE INDEX "idx_case_events_case_id"
    ON "case_events" ("case_id");
CREATE INDEX "idx_handoffs_resolved_at_requested_at"
    ON "handoffs" ("resolved_at", "requested_at");
CREATE INDEX "idx_cases_sender_id_created_at"
    ON "cases" ("sender_id", "created_at");
CREATE INDEX "idx_checklist_links_case_id"
    ON "checklist_links" ("case_id");
CREATE INDEX idx_staff_sessions_expires_at ON staff_sessions (expires_at);
CREATE INDEX idx_login_attempts_username_at ON login_attempts (username, at);
CREATE INDEX idx_login_attempts_ip_at ON login_attempts (ip, at);
CREATE INDEX idx_audit_log_case_id_id ON audit_log (case_id, id);
CREATE INDEX idx_case_notes_case_id_id ON case_notes (case_id, id);
CREATE INDEX idx_case_tags_tag_case_id ON case_tags (tag, case_id);
CREATE UNIQUE INDEX idx_flagged_examples_sender_id_event_id ON flagged_examples (sender_id, event_id);
CREATE INDEX idx_cases_created_at_case_id ON cases (created_at, case_id);
CREATE INDEX idx_cases_status_created_at_case_id ON cases (status, created_at, case_id);
CREATE INDEX idx_cases_kind_created_at_case_id ON cases (kind, created_at, case_id);
CREATE INDEX idx_cases_bank_created_at_case_id ON cases (bank, created_at, case_id);
CREATE INDEX idx_cases_channel_created_at_case_id ON cases (channel, created_at, case_id);
CREATE TRIGGER "cases_ai" AFTER INSERT ON "cases" BEGIN
  INSERT INTO "cases_fts" (rowid, "case_id", "card_last4", "merchant") VALUES (new.rowid, new."case_id", new."card_last4", new."merchant");
END;
CREATE TRIGGER "cases_ad" AFTER DELETE ON "cases" BEGIN
  INSERT INTO "cases_fts" ("cases_fts", rowid, "case_id", "card_last4", "merchant") VALUES('delete', old.rowid, old."case_id", old."card_last4", old."merchant");
END;
CREATE TRIGGER "cases_au" AFTER UPDATE ON "cases" BEGIN
  INSERT INTO "cases_fts" ("cases_fts", rowid, "case_id", "card_last4", "merchant") VALUES('delete', old.rowid, old."case_id", old."card_last4", old."merchant");
  INSERT INTO "cases_fts" (rowid, "case_id", "card_last4", "merchant") VALUES (new.rowid, new."case_id", new."card_last4", new."merchant");
END;
CREATE UNIQUE INDEX idx_handoffs_one_waiting_per_sender ON handoffs(sender_id) WHERE resolved_at IS NULL;
CREATE INDEX idx_staff_sessions_username ON staff_sessions (username);
PRAGMA writable_schema=OFF;
COMMIT;
