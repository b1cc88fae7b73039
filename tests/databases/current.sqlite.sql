PRAGMA foreign_keys=OFF;
BEGIN TRANSACTION;
CREATE TABLE IF NOT EXISTS "_migrations" (
   "name" TEXT PRIMARY KEY,
   "applied_at" TEXT
);
INSERT INTO _migrations VALUES('0001_create_cases','2026-11-25T13:31:55.887445+08:00');
INSERT INTO _migrations VALUES('0002_create_case_events','2026-11-25T13:31:55.889936+08:00');
INSERT INTO _migrations VALUES('0003_create_handoffs','2026-11-25T13:31:55.890419+08:00');
INSERT INTO _migrations VALUES('0004_fact_columns_and_several_cases','2026-11-25T13:31:55.890991+08:00');
INSERT INTO _migrations VALUES('0005_create_checklist_links','2026-11-25T13:31:55.891411+08:00');
INSERT INTO _migrations VALUES('0006_namespace_sender_ids','2026-11-25T13:31:55.891564+08:00');
INSERT INTO _migrations VALUES('0007_one_waiting_handoff_per_conversation','2026-11-25T13:31:55.892404+08:00');
INSERT INTO _migrations VALUES('console_0001_create_staff_users','2026-11-25T13:31:55.904912+08:00');
INSERT INTO _migrations VALUES('console_0002_create_staff_sessions','2026-11-25T13:31:55.905065+08:00');
INSERT INTO _migrations VALUES('console_0003_create_login_attempts','2026-11-25T13:31:55.905189+08:00');
INSERT INTO _migrations VALUES('console_0004_create_audit_log','2026-11-25T13:31:55.905277+08:00');
INSERT INTO _migrations VALUES('console_0005_create_case_notes','2026-11-25T13:31:55.905365+08:00');
INSERT INTO _migrations VALUES('console_0006_create_case_tags','2026-11-25T13:31:55.905455+08:00');
INSERT INTO _migrations VALUES('console_0007_create_conversation_reviews','2026-11-25T13:31:55.905549+08:00');
INSERT INTO _migrations VALUES('console_0008_create_flagged_examples','2026-11-25T13:31:55.905642+08:00');
INSERT INTO _migrations VALUES('console_0009_index_cases_for_queue','2026-11-25T13:31:55.905806+08:00');
INSERT INTO _migrations VALUES('console_0010_enable_cases_fts','2026-11-25T13:31:55.907477+08:00');
INSERT INTO _migrations VALUES('console_0011_namespace_sender_ids','2026-11-25T13:31:55.907573+08:00');
INSERT INTO _migrations VALUES('console_0012_add_staff_roles','2026-11-25T13:31:55.910156+08:00');
INSERT INTO _migrations VALUES('console_0013_add_staff_disabled_at','2026-11-25T13:31:55.910507+08:00');
INSERT INTO _migrations VALUES('console_0014_add_session_last_seen','2026-11-25T13:31:55.910784+08:00');
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
INSERT INTO cases VALUES('WS-20261125-0001','misswipe','cardholder','rest:alice','rest','open','中国工商银行',3000.0,'2026-11-20','华联超市','1234',NULL,'["contact_merchant"]',1,'2026-11-25T13:31:56.567947+08:00','2026-11-25T13:31:56.592074+08:00',300.0,0,'["card_type"]');
INSERT INTO cases VALUES('WS-20261125-0002','unauthorized','cardholder','wechat:oAbCdEfGhIjKlMnOpQrStUvWxYz','wechat','resolved','招商银行',NULL,NULL,'沃尔玛山姆会员店',NULL,NULL,'[]',0,'2026-11-25T13:31:56.620273+08:00','2026-11-25T13:31:56.664222+08:00',NULL,NULL,'[]');
INSERT INTO cases VALUES('WS-20261125-0003','merchant','merchant','web:0f3a9c5e0f3a9c5e0f3a9c5e0f3a9c5e','socketio','open',NULL,10.0,NULL,'老王烧烤',NULL,NULL,'[]',0,'2026-11-25T13:31:56.674028+08:00','2026-11-25T13:31:56.674028+08:00',NULL,NULL,'[]');
CREATE TABLE IF NOT EXISTS "case_counters" (
   "day" TEXT PRIMARY KEY,
   "last" INTEGER
);
INSERT INTO case_counters VALUES('20261125',3);
CREATE TABLE IF NOT EXISTS "case_events" (
   "id" INTEGER PRIMARY KEY,
   "case_id" TEXT REFERENCES "cases"("case_id"),
   "at" TEXT,
   "event" TEXT,
   "detail" TEXT
);
INSERT INTO case_events VALUES(1,'WS-20261125-0001','2026-11-25T13:31:56.569365+08:00','created','{"kind": "misswipe", "channel": "rest"}');
INSERT INTO case_events VALUES(2,'WS-20261125-0001','2026-11-25T13:31:56.578345+08:00','facts_updated','{"correct_amount": 300.0, "cross_border": 0}');
INSERT INTO case_events VALUES(3,'WS-20261125-0001','2026-11-25T13:31:56.588844+08:00','steps_done','["contact_merchant"]');
INSERT INTO case_events VALUES(4,'WS-20261125-0001','2026-11-25T13:31:56.592999+08:00','handoff_requested','{"channel": "rest"}');
INSERT INTO case_events VALUES(5,'WS-20261125-0002','2026-11-25T13:31:56.621097+08:00','created','{"kind": "failed_charge", "channel": "wechat"}');
INSERT INTO case_events VALUES(6,'WS-20261125-0002','2026-11-25T13:31:56.633159+08:00','kind_changed','{"from": "failed_charge", "to": "unauthorized"}');
INSERT INTO case_events VALUES(7,'WS-20261125-0002','2026-11-25T13:31:56.649568+08:00','checklist_links_revoked','{"by": "alice", "links": 1}');
INSERT INTO case_events VALUES(8,'WS-20261125-0002','2026-11-25T13:31:56.664973+08:00','status','{"from": "open", "to": "resolved"}');
INSERT INTO case_events VALUES(9,'WS-20261125-0003','2026-11-25T13:31:56.674880+08:00','created','{"kind": "merchant", "channel": "socketio"}');
CREATE TABLE IF NOT EXISTS "handoffs" (
   "id" INTEGER PRIMARY KEY,
   "sender_id" TEXT,
   "channel" TEXT,
   "case_id" TEXT,
   "requested_at" TEXT,
   "resolved_at" TEXT
);
INSERT INTO handoffs VALUES(1,'rest:alice','rest','WS-20261125-0001','2026-11-25T13:31:56.592074+08:00',NULL);
INSERT INTO handoffs VALUES(2,'web:0f3a9c5e0f3a9c5e0f3a9c5e0f3a9c5e','socketio',NULL,'2026-11-25T13:31:56.684461+08:00','2026-11-25T13:31:56.696133+08:00');
CREATE TABLE IF NOT EXISTS "checklist_links" (
   "token_hash" TEXT PRIMARY KEY,
   "case_id" TEXT NOT NULL REFERENCES "cases"("case_id"),
   "created_at" TEXT NOT NULL,
   "expires_at" TEXT NOT NULL,
   "revoked_at" TEXT
);
INSERT INTO checklist_links VALUES('aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa','WS-20261125-0001','2026-11-25T13:31:56.597866+08:00','2026-12-25T13:31:56.597536+08:00',NULL);
INSERT INTO checklist_links VALUES('bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb','WS-20261125-0002','2026-11-25T13:31:56.643630+08:00','2026-12-25T13:31:56.643445+08:00','2026-11-25T13:31:56.649451+08:00');
CREATE TABLE staff_users (username TEXT PRIMARY KEY, password_hash TEXT NOT NULL, created_at TEXT NOT NULL, role TEXT NOT NULL DEFAULT 'agent', disabled_at TEXT);
INSERT INTO staff_users VALUES('alice','scrypt$16384$8$1$RaeVsb2nO6l1SRk6wCukLA==$jV38ymg7J1JFUGz/1zvENcpjCPgtyv6QUFCBn7gobOY=','2026-11-25T13:31:56.006020+08:00','admin',NULL);
INSERT INTO staff_users VALUES('bob','scrypt$16384$8$1$HojrZy48MeKK3WkAa44HQA==$ISLMCR63S7j/sx2DjE1gmoFaxoMeVRxd6IdMCo+Jl7Q=','2026-11-25T13:31:56.101955+08:00','agent','2026-11-25T13:31:56.562598+08:00');
CREATE TABLE staff_sessions (id TEXT PRIMARY KEY, username TEXT NOT NULL REFERENCES staff_users(username), csrf_token TEXT NOT NULL, created_at TEXT NOT NULL, expires_at TEXT NOT NULL, last_seen_at TEXT);
INSERT INTO staff_sessions VALUES('b54bf2c158165da97c01130632610af21e3eab1912bc2f06b31ad55e5297bd9c','alice','B774XVeWXe24AuilYzc6MBJZ69oALctHselfAcKsIrI','2026-11-25T13:31:56.107808+08:00','2026-11-26T01:31:56.107808+08:00','2026-11-25T13:31:56.107808+08:00');
CREATE TABLE login_attempts (id INTEGER PRIMARY KEY, at TEXT NOT NULL, username TEXT NOT NULL, ip TEXT NOT NULL, succeeded INTEGER NOT NULL);
INSERT INTO login_attempts VALUES(1,'2026-11-25T13:31:56.107808+08:00','alice','10.0.0.1',1);
INSERT INTO login_attempts VALUES(2,'2026-11-25T13:31:56.304043+08:00','bob','10.0.0.2',0);
CREATE TABLE audit_log (id INTEGER PRIMARY KEY, at TEXT NOT NULL, username TEXT NOT NULL, action TEXT NOT NULL, case_id TEXT, sender_id TEXT, detail TEXT NOT NULL);
INSERT INTO audit_log VALUES(1,'2026-11-25T13:31:56.006223+08:00','setup','user_added',NULL,NULL,'{"username": "alice", "role": "admin"}');
INSERT INTO audit_log VALUES(2,'2026-11-25T13:31:56.102098+08:00','alice','user_added',NULL,NULL,'{"username": "bob", "role": "agent"}');
INSERT INTO audit_log VALUES(3,'2026-11-25T13:31:56.562722+08:00','alice','user_disabled',NULL,NULL,'{"username": "bob", "sessions": 0}');
INSERT INTO audit_log VALUES(4,'2026-11-25T13:31:56.604091+08:00','alice','note_added','WS-20261125-0001',NULL,'{"note": 1}');
INSERT INTO audit_log VALUES(5,'2026-11-25T13:31:56.608023+08:00','alice','tag_added','WS-20261125-0001',NULL,'{"tag": "需回电"}');
INSERT INTO audit_log VALUES(6,'2026-11-25T13:31:56.616075+08:00','alice','conversation_reviewed','WS-20261125-0001','rest:alice','{"last_event_id": 42}');
INSERT INTO audit_log VALUES(7,'2026-11-25T13:31:56.652193+08:00','alice','checklist_links_revoked','WS-20261125-0002',NULL,'{"links": 1}');
INSERT INTO audit_log VALUES(8,'2026-11-25T13:31:56.669290+08:00','alice','status_changed','WS-20261125-0002','wechat:oAbCdEfGhIjKlMnOpQrStUvWxYz','{"from": "open", "to": "resolved"}');
INSERT INTO audit_log VALUES(9,'2026-11-25T13:31:56.696211+08:00','alice','handoff_resolved',NULL,'web:0f3a9c5e0f3a9c5e0f3a9c5e0f3a9c5e','{"handoff": 2}');
INSERT INTO audit_log VALUES(10,'2026-11-25T13:31:56.700053+08:00','alice','example_flagged',NULL,'web:0f3a9c5e0f3a9c5e0f3a9c5e0f3a9c5e','{"event_id": 7, "intent": "report_misswipe", "annotated": "在[华联](merchant)被扣两次"}');
CREATE TABLE case_notes (id INTEGER PRIMARY KEY, case_id TEXT NOT NULL REFERENCES cases(case_id), at TEXT NOT NULL, username TEXT NOT NULL, text TEXT NOT NULL);
INSERT INTO case_notes VALUES(1,'WS-20261125-0001','2026-11-25T13:31:56.603813+08:00','alice','已电话联系用户');
CREATE TABLE case_tags (case_id TEXT REFERENCES cases(case_id), tag TEXT, added_by TEXT NOT NULL, added_at TEXT NOT NULL, PRIMARY KEY (case_id, tag));
INSERT INTO case_tags VALUES('WS-20261125-0001','需回电','alice','2026-11-25T13:31:56.607863+08:00');
CREATE TABLE conversation_reviews (sender_id TEXT PRIMARY KEY, reviewed_by TEXT NOT NULL, reviewed_at TEXT NOT NULL, last_event_id INTEGER);
INSERT INTO conversation_reviews VALUES('rest:alice','alice','2026-11-25T13:31:56.615798+08:00',42);
CREATE TABLE flagged_examples (id INTEGER PRIMARY KEY, sender_id TEXT NOT NULL, event_id INTEGER NOT NULL, text TEXT NOT NULL, annotated TEXT NOT NULL, predicted_intent TEXT, confidence FLOAT, intent TEXT NOT NULL, flagged_by TEXT NOT NULL, flagged_at TEXT NOT NULL);
INSERT INTO flagged_examples VALUES(1,'web:0f3a9c5e0f3a9c5e0f3a9c5e0f3a9c5e',7,'在华联被扣两次','在[华联](merchant)被扣两次','nlu_fallback',0.4000000000000000222,'report_misswipe','alice','2026-11-25T13:31:56.699849+08:00');
PRAGMA writable_schema=ON;
INSERT INTO sqlite_schema(type,name,tbl_name,rootpage,sql)VALUES('table','cases_fts','cases_fts',0,'CREATE VIRTUAL TABLE "cases_fts" USING FTS5 (
    "case_id", "card_last4", "merchant",
    tokenize=''trigram'',
    content="cases"
)');
CREATE TABLE IF NOT EXISTS 'cases_fts_data'(id INTEGER PRIMARY KEY, block BLOB);
INSERT INTO cases_fts_data VALUES(1,X'032a020a');
INSERT INTO cases_fts_data VALUES(10,X'000000000108080008010101020101030101040101050101060101070101080101');
INSERT INTO cases_fts_data VALUES(137438953473,X'0000009e04302d303001020d02023230010204010330303001020e03013101020f02023236010206010331313201020902023233010601010203013501020a01033230320102050202333401060101030202352d01020b020236310102070103352d3001020c01033631310102080103732d32010203010377732d0102020109e58d8ee88194e8b68501060102020109e88194e8b685e5b8820106010203040807080607080906080907070808080810');
INSERT INTO cases_fts_data VALUES(274877906945,X'0000009e04302d303001030d02023230010304010330303001030e03013101030f02023236010306010331313201030902023233010701010203013501030a01033230320103050202333401070101030202352d01030b020236310103070103352d3001030c01033631310103080103732d32010303010377732d0103020109e58d8ee88194e8b68501070102020109e88194e8b685e5b8820107010203040807080607080906080907070808080810');
INSERT INTO cases_fts_data VALUES(412316860417,X'0000009e04302d303001030d02023230010304010330303001030e03013101030f02023236010306010331313201030902023233010701010203013501030a01033230320103050202333401070101030202352d01030b020236310103070103352d3001030c01033631310103080103732d32010303010377732d0103020109e58d8ee88194e8b68501070102020109e88194e8b685e5b8820107010203040807080607080906080907070808080810');
INSERT INTO cases_fts_data VALUES(549755813889,X'0000009e04302d303001030d02023230010304010330303001030e03013101030f02023236010306010331313201030902023233010701010203013501030a01033230320103050202333401070101030202352d01030b020236310103070103352d3001030c01033631310103080103732d32010303010377732d0103020109e58d8ee88194e8b68501070102020109e88194e8b685e5b8820107010203040807080607080906080907070808080810');
INSERT INTO cases_fts_data VALUES(687194767361,X'000000cb04302d303002020d02023230020204010330303002020e03013202020f0202323602020601033131320202090202323502020a01033230320202050202352d02020b020236310202070103352d3002020c01033631310202080103732d32020203010377732d0202020109e4bc9ae59198e5ba9702060102070109e5a786e4bc9ae5919802060102060208b094e78e9be5b1b102060102030208b1b1e5a786e4bc9a02060102050109e6b283e5b094e78e9b02060102020109e78e9be5b1b1e5a786020601020404080708060708070807070808080810100f0f10');
INSERT INTO cases_fts_data VALUES(824633720833,X'000000cb04302d303002030d02023230020304010330303002030e03013202030f0202323602030601033131320203090202323502030a01033230320203050202352d02030b020236310203070103352d3002030c01033631310203080103732d32020303010377732d0203020109e4bc9ae59198e5ba9702070102070109e5a786e4bc9ae5919802070102060208b094e78e9be5b1b102070102030208b1b1e5a786e4bc9a02070102050109e6b283e5b094e78e9b02070102020109e78e9be5b1b1e5a786020701020404080708060708070807070808080810100f0f10');
INSERT INTO cases_fts_data VALUES(962072674305,X'000000cb04302d303002030d02023230020304010330303002030e03013202030f0202323602030601033131320203090202323502030a01033230320203050202352d02030b020236310203070103352d3002030c01033631310203080103732d32020303010377732d0203020109e4bc9ae59198e5ba9702070102070109e5a786e4bc9ae5919802070102060208b094e78e9be5b1b102070102030208b1b1e5a786e4bc9a02070102050109e6b283e5b094e78e9b02070102020109e78e9be5b1b1e5a786020701020404080708060708070807070808080810100f0f10');
INSERT INTO cases_fts_data VALUES(1099511627777,X'0000008d04302d303003020d02023230030204010330303003020e03013303020f0202323603020601033131320302090202323503020a01033230320302050202352d03020b020236310302070103352d3003020c01033631310302080103732d32030203010377732d0302020109e78e8be783a7e783a403060102030109e88081e78e8be783a7030601020204080708060708070807070808080810');
CREATE TABLE IF NOT EXISTS 'cases_fts_idx'(segid, term, pgno, PRIMARY KEY(segid, term)) WITHOUT ROWID;
INSERT INTO cases_fts_idx VALUES(1,X'',2);
INSERT INTO cases_fts_idx VALUES(2,X'',2);
INSERT INTO cases_fts_idx VALUES(3,X'',2);
INSERT INTO cases_fts_idx VALUES(4,X'',2);
INSERT INTO cases_fts_idx VALUES(5,X'',2);
INSERT INTO cases_fts_idx VALUES(6,X'',2);
INSERT INTO cases_fts_idx VALUES(7,X'',2);
INSERT INTO cases_fts_idx VALUES(8,X'',2);
CREATE TABLE IF NOT EXISTS 'cases_fts_docsize'(id INTEGER PRIMARY KEY, sz BLOB);
INSERT INTO cases_fts_docsize VALUES(1,X'0e0202');
INSERT INTO cases_fts_docsize VALUES(2,X'0e0006');
INSERT INTO cases_fts_docsize VALUES(3,X'0e0002');
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
CREATE UNIQUE INDEX idx_handoffs_one_waiting_per_sender ON handoffs(sender_id) WHERE resolved_at IS NULL;
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
CREATE INDEX idx_staff_sessions_username ON staff_sessions (username);
PRAGMA writable_schema=OFF;
COMMIT;
