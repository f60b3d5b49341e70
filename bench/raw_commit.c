/* bench/raw_commit.c — the raw durable commit rate of this disk.
 *
 *   raw_commit PATH [SECONDS]
 *
 * Removes PATH (and its -wal/-shm), opens it as a fresh SQLite database in WAL
 * mode with synchronous=FULL (what Agentry's store uses), then commits one
 * single-row INSERT per transaction in a loop for SECONDS (default 10) and
 * prints the number of commits per second, with the p50/p99 latency of one
 * commit. Every commit is durable when it returns: one fsync of the WAL each.
 * This is the reference for the lease benchmark (bench/run.sh leases): lease
 * operations per second divided by this rate shows how much group commit folds.
 *
 * Output (stdout, one "key: value" per line):
 *   commits: N
 *   seconds: S
 *   commits/s: R
 *   p50_ms: X
 *   p99_ms: Y
 *   sqlite: VERSION
 */
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static double now_s(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void check(sqlite3 *db, int rc, const char *what) {
  if (rc != SQLITE_OK && rc != SQLITE_DONE && rc != SQLITE_ROW) {
    fprintf(stderr, "raw_commit: %s: %s\n", what, db ? sqlite3_errmsg(db) : sqlite3_errstr(rc));
    exit(1);
  }
}

static void exec(sqlite3 *db, const char *sql) {
  char *err = NULL;
  if (sqlite3_exec(db, sql, NULL, NULL, &err) != SQLITE_OK) {
    fprintf(stderr, "raw_commit: %s: %s\n", sql, err ? err : "?");
    exit(1);
  }
}

static int cmp_double(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return (x > y) - (x < y);
}

int main(int argc, char **argv) {
  if (argc < 2 || argc > 3) {
    fprintf(stderr, "usage: raw_commit PATH [SECONDS]\n");
    return 2;
  }
  const char *path = argv[1];
  double seconds = argc == 3 ? atof(argv[2]) : 10.0;
  if (!(seconds > 0 && seconds <= 3600)) {
    fprintf(stderr, "raw_commit: SECONDS must be in (0, 3600]\n");
    return 2;
  }

  size_t plen = strlen(path);
  char *aux = malloc(plen + 8);
  if (!aux) return 1;
  unlink(path);
  snprintf(aux, plen + 8, "%s-wal", path);
  unlink(aux);
  snprintf(aux, plen + 8, "%s-shm", path);
  unlink(aux);
  snprintf(aux, plen + 8, "%s-journal", path);
  unlink(aux);
  free(aux);

  sqlite3 *db = NULL;
  check(db, sqlite3_open_v2(path, &db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, NULL), "open");
  exec(db, "PRAGMA journal_mode=WAL");
  exec(db, "PRAGMA synchronous=FULL");
  exec(db, "CREATE TABLE t(id INTEGER PRIMARY KEY, lease_id TEXT NOT NULL, profile_id TEXT NOT NULL, "
           "token INTEGER NOT NULL, expires_at INTEGER NOT NULL)");

  /* Check the pragmas took (journal_mode=WAL can silently stay "delete"). */
  sqlite3_stmt *q = NULL;
  check(db, sqlite3_prepare_v2(db, "PRAGMA journal_mode", -1, &q, NULL), "prepare");
  check(db, sqlite3_step(q), "journal_mode");
  if (strcmp((const char *)sqlite3_column_text(q, 0), "wal") != 0) {
    fprintf(stderr, "raw_commit: journal_mode is %s, not wal\n", sqlite3_column_text(q, 0));
    return 1;
  }
  sqlite3_finalize(q);

  sqlite3_stmt *begin = NULL, *ins = NULL, *commit = NULL;
  check(db, sqlite3_prepare_v2(db, "BEGIN IMMEDIATE", -1, &begin, NULL), "prepare begin");
  check(db, sqlite3_prepare_v2(db, "INSERT INTO t(lease_id, profile_id, token, expires_at) VALUES(?,?,?,?)",
                               -1, &ins, NULL), "prepare insert");
  check(db, sqlite3_prepare_v2(db, "COMMIT", -1, &commit, NULL), "prepare commit");

  size_t cap = 1 << 16, n = 0;
  double *lat = malloc(cap * sizeof *lat);
  if (!lat) return 1;
  char lease_id[40], profile_id[40];
  double start = now_s(), end = start + seconds, t = start;
  while (t < end) {
    double t0 = now_s();
    snprintf(lease_id, sizeof lease_id, "lse_%020zu", n);
    snprintf(profile_id, sizeof profile_id, "prf_%020zu", n % 128);
    check(db, sqlite3_step(begin), "begin");
    sqlite3_reset(begin);
    sqlite3_bind_text(ins, 1, lease_id, -1, SQLITE_TRANSIENT);
    sqlite3_bind_text(ins, 2, profile_id, -1, SQLITE_TRANSIENT);
    sqlite3_bind_int64(ins, 3, (sqlite3_int64)n + 1);
    sqlite3_bind_int64(ins, 4, (sqlite3_int64)(t0 * 1000) + 300000);
    check(db, sqlite3_step(ins), "insert");
    sqlite3_reset(ins);
    check(db, sqlite3_step(commit), "commit");
    sqlite3_reset(commit);
    t = now_s();
    if (n == cap) {
      cap *= 2;
      double *bigger = realloc(lat, cap * sizeof *lat);
      if (!bigger) return 1;
      lat = bigger;
    }
    lat[n++] = t - t0;
  }
  double elapsed = t - start;

  sqlite3_finalize(begin);
  sqlite3_finalize(ins);
  sqlite3_finalize(commit);
  check(db, sqlite3_close(db), "close");

  if (n == 0) {
    fprintf(stderr, "raw_commit: no commit finished\n");
    return 1;
  }
  qsort(lat, n, sizeof *lat, cmp_double);
  printf("commits: %zu\n", n);
  printf("seconds: %.3f\n", elapsed);
  printf("commits/s: %.1f\n", (double)n / elapsed);
  printf("p50_ms: %.3f\n", lat[(n - 1) / 2] * 1e3);
  printf("p99_ms: %.3f\n", lat[(size_t)((double)(n - 1) * 0.99)] * 1e3);
  printf("sqlite: %s\n", sqlite3_libversion());
  free(lat);
  return 0;
}
