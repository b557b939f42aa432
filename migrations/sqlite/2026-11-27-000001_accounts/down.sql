DROP TABLE audit_log;
DROP TABLE refresh_tokens;
DROP TABLE sessions;
DROP TABLE devices;
DROP TABLE users;
DROP TABLE teams;
DROP TABLE areas;
