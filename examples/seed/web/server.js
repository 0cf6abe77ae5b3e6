// The seed's web service. On `/`: one row into Postgres, one increment of a Redis counter,
// and the answer carries both ("visits=3 rows=3"). `/healthz` answers once both stores do.
"use strict";

const http = require("http");
const { Pool } = require("pg");
const { createClient } = require("redis");

const port = Number(process.env.PORT || 3000);
const pool = new Pool({
  connectionString: process.env.DATABASE_URL || "postgres://postgres@db:5432/postgres",
  max: 4,
});
// An idle connection the server closed (a restart of db) is dropped from the pool, not fatal.
pool.on("error", (err) => console.error("postgres:", err.message));
const redis = createClient({ url: process.env.REDIS_URL || "redis://redis:6379" });
redis.on("error", (err) => console.error("redis:", err.message));

let ready = null;
function setUp() {
  // Retried on the next request if a store was not there yet.
  ready = ready || Promise.all([
    redis.isOpen ? null : redis.connect(),
    pool.query("CREATE TABLE IF NOT EXISTS visits (id serial PRIMARY KEY, at timestamptz NOT NULL DEFAULT now())"),
  ]).catch((err) => { ready = null; throw err; });
  return ready;
}

async function visit() {
  await setUp();
  const visits = await redis.incr("visits");
  await pool.query("INSERT INTO visits DEFAULT VALUES");
  const { rows } = await pool.query("SELECT count(*)::int AS n FROM visits");
  return `visits=${visits} rows=${rows[0].n}\n`;
}

const server = http.createServer((req, res) => {
  const answer = (code, text) => {
    res.writeHead(code, { "Content-Type": "text/plain; charset=utf-8" });
    res.end(text);
  };
  const path = new URL(req.url, "http://localhost").pathname;
  let work;
  if (path === "/") work = visit();
  else if (path === "/healthz") work = setUp().then(() => redis.ping()).then(() => "ok\n");
  else return answer(404, "not found\n");
  work.then((text) => answer(200, text), (err) => {
    console.error(`${req.method} ${path}:`, err.message);
    answer(503, `error: ${err.message}\n`);
  });
});

server.listen(port, "0.0.0.0", () => console.log(`seed web listening on :${port}`));

// PID 1 in its container: stop cleanly on `docker stop` (SIGTERM) and Ctrl-C.
for (const sig of ["SIGTERM", "SIGINT"]) {
  process.on(sig, () => {
    console.log(`${sig}: closing`);
    server.close();
    Promise.allSettled([pool.end(), redis.isOpen ? redis.quit() : null]).then(() => process.exit(0));
    setTimeout(() => process.exit(0), 3000).unref();
  });
}
