package mobile

import (
	"database/sql"
	"errors"
	"fmt"
	"strings"

	_ "modernc.org/sqlite" // pure Go: gomobile bind needs no C toolchain for SQLite
)

// queue is the on-disk FIFO of encoded events plus a small key/value table for what must
// outlive the process (device id, user id, session). Every event is committed here before
// any attempt to send it, so an app killed at any moment loses nothing it had tracked.
type queue struct {
	db  *sql.DB
	max int
}

type queued struct {
	seq  int64
	body []byte
}

func openQueue(path string, max int) (*queue, error) {
	if path == "" {
		return nil, errors.New("dbPath is required")
	}
	// busy_timeout: a second handle (a re-Init racing the old one's close) waits instead of
	// failing; WAL + synchronous=NORMAL survives a killed process, which is the mobile case.
	dsn := "file:" + path + "?_pragma=busy_timeout(5000)&_pragma=journal_mode(WAL)" +
		"&_pragma=synchronous(NORMAL)"
	db, err := sql.Open("sqlite", dsn)
	if err != nil {
		return nil, err
	}
	db.SetMaxOpenConns(1) // one writer; SQLite serialises writes anyway
	for _, stmt := range []string{
		`CREATE TABLE IF NOT EXISTS events (seq INTEGER PRIMARY KEY AUTOINCREMENT, body BLOB NOT NULL)`,
		`CREATE TABLE IF NOT EXISTS kv (k TEXT PRIMARY KEY, v TEXT NOT NULL)`,
	} {
		if _, err := db.Exec(stmt); err != nil {
			db.Close()
			return nil, fmt.Errorf("open queue %s: %w", path, err)
		}
	}
	return &queue{db: db, max: max}, nil
}

func (q *queue) close() error { return q.db.Close() }

// push appends one event and evicts the oldest beyond the cap, in one transaction; it
// returns how many were evicted so the caller can log the loss.
func (q *queue) push(body []byte) (int64, error) {
	tx, err := q.db.Begin()
	if err != nil {
		return 0, err
	}
	defer tx.Rollback()
	if _, err := tx.Exec(`INSERT INTO events (body) VALUES (?)`, body); err != nil {
		return 0, err
	}
	var evicted int64
	if q.max > 0 {
		res, err := tx.Exec(`DELETE FROM events WHERE seq IN (SELECT seq FROM events
			ORDER BY seq DESC LIMIT -1 OFFSET ?)`, q.max)
		if err != nil {
			return 0, err
		}
		evicted, _ = res.RowsAffected()
	}
	return evicted, tx.Commit()
}

// peek returns up to n of the oldest events, oldest first, without removing them: they
// leave the queue only once the gateway answered for them.
func (q *queue) peek(n int) ([]queued, error) {
	rows, err := q.db.Query(`SELECT seq, body FROM events ORDER BY seq LIMIT ?`, n)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []queued
	for rows.Next() {
		var e queued
		if err := rows.Scan(&e.seq, &e.body); err != nil {
			return nil, err
		}
		out = append(out, e)
	}
	return out, rows.Err()
}

func (q *queue) remove(batch []queued) error {
	if len(batch) == 0 {
		return nil
	}
	args := make([]any, len(batch))
	marks := make([]string, len(batch))
	for i, e := range batch {
		args[i], marks[i] = e.seq, "?"
	}
	_, err := q.db.Exec(`DELETE FROM events WHERE seq IN (`+strings.Join(marks, ",")+`)`, args...)
	return err
}

func (q *queue) pending() (int, error) {
	var n int
	err := q.db.QueryRow(`SELECT count(*) FROM events`).Scan(&n)
	return n, err
}

func (q *queue) get(k string) (string, error) {
	var v string
	err := q.db.QueryRow(`SELECT v FROM kv WHERE k = ?`, k).Scan(&v)
	if errors.Is(err, sql.ErrNoRows) {
		return "", nil
	}
	return v, err
}

func (q *queue) set(k, v string) error {
	_, err := q.db.Exec(`INSERT INTO kv (k, v) VALUES (?, ?) ON CONFLICT(k) DO UPDATE SET v = excluded.v`, k, v)
	return err
}
