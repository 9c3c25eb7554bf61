const { test, before, after } = require("node:test");
const assert = require("node:assert/strict");
const http = require("node:http");

const app = require("../src/app");

let server;
let baseUrl;

before(async () => {
  server = http.createServer(app);
  await new Promise((resolve) => server.listen(0, "127.0.0.1", resolve));
  baseUrl = `http://127.0.0.1:${server.address().port}`;
});

after(() => new Promise((resolve) => server.close(resolve)));

function getJson(path) {
  return new Promise((resolve, reject) => {
    http
      .get(baseUrl + path, (res) => {
        let body = "";
        res.setEncoding("utf8");
        res.on("data", (chunk) => (body += chunk));
        res.on("end", () => resolve({ status: res.statusCode, body: JSON.parse(body) }));
      })
      .on("error", reject);
  });
}

test("GET /healthz returns ok", async () => {
  const res = await getJson("/healthz");
  assert.equal(res.status, 200);
  assert.deepEqual(res.body, { status: "ok" });
});

test("GET /api/hello greets by name", async () => {
  const res = await getJson("/api/hello?name=deploysmith");
  assert.equal(res.status, 200);
  assert.deepEqual(res.body, { message: "Hello, deploysmith!" });
});
